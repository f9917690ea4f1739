"""Metadata policy (OpenID Federation 1.0, section 6.1 "Metadata Policy").

A ``metadata_policy`` has three levels (section 6.1.2 "Structure"): Entity Type Identifier ->
metadata parameter name -> operators. The standard operators (section 6.1.3.1 "Standard
Operators") are, in their order of application: ``value``, ``add``, ``default``, ``one_of``,
``subset_of``, ``superset_of``, ``essential``.

- :func:`validate_metadata_policy` checks the structure, each operator's JSON type and the
  allowed operator combinations; an operator we do not understand is ignored unless it is
  critical (section 6.1.3.2 "Additional Operators" and the ``metadata_policy_crit`` claim).
- :func:`combine_policies` merges a subordinate policy into its superior's (section 6.1.4.1
  "Resolution"): ``value`` and ``default`` must be equal, ``add`` and ``superset_of`` are
  unions, ``one_of`` (non-empty) and ``subset_of`` are intersections, ``essential`` is OR.
- :func:`apply_policy` applies a resolved parameter policy to one Entity Type's metadata
  (section 6.1.4.2 "Application"), after the superior's ``metadata`` claim has overridden the
  subject's parameters (:func:`apply_metadata_override`, section 3.1 ``metadata``).

Every error is a :class:`~idp.federation.statements.TrustChainError`: ``invalid_policy``
(structure or operator type), ``policy_conflict`` (a combination or merge that the
specification forbids), ``unknown_critical_operator``, or ``policy_violation`` (the metadata
does not satisfy the policy). Any of them makes the Trust Chain invalid.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from idp.federation.statements import Reason, TrustChainError

STANDARD_OPERATORS = ("value", "add", "default", "one_of", "subset_of", "superset_of", "essential")
"""The standard operators in their order of application (section 6.1.3.1)."""

SUPPORTED_ADDITIONAL_OPERATORS: frozenset[str] = frozenset()
"""Additional operators this implementation understands; none yet."""

_SCOPE = "scope"  # section 6.1.3.1.8: processed as an array of space-separated values

Policy = dict[str, dict[str, dict[str, Any]]]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _keys(values: Iterable[Any]) -> set[str]:
    return {_canonical(value) for value in values}


def _union(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    seen: set[str] = set()
    result = []
    for value in (*first, *second):
        key = _canonical(value)
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


def _intersection(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    allowed = _keys(second)
    return _union([value for value in first if _canonical(value) in allowed], [])


def _is_subset(first: Sequence[Any], second: Sequence[Any]) -> bool:
    return _keys(first) <= _keys(second)


def _error(reason: Reason, where: str, message: str) -> TrustChainError:
    return TrustChainError(reason, f"{where}: {message}")


# --- validation ----------------------------------------------------------------------------


def check_metadata_policy_crit(value: object) -> frozenset[str]:
    """Validate a ``metadata_policy_crit`` claim and return the operators it names.

    Section 3.1.3 ("Claims that MUST or MAY appear in Subordinate Statements"): a non-empty
    array of names of operators that are not standard; if any of them is not understood, the
    statement and the Trust Chain are invalid.
    """
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TrustChainError(
            Reason.INVALID_POLICY, "metadata_policy_crit must be a non-empty array of strings"
        )
    for name in value:
        if name in STANDARD_OPERATORS:
            raise TrustChainError(
                Reason.INVALID_POLICY, f"metadata_policy_crit lists the standard operator {name!r}"
            )
        if name not in SUPPORTED_ADDITIONAL_OPERATORS:
            raise TrustChainError(
                Reason.UNKNOWN_CRITICAL_OPERATOR,
                f"the critical metadata policy operator {name!r} is not understood",
            )
    return frozenset(value)


def _is_array_of_values(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, str | int | float | dict) and not isinstance(item, bool) for item in value
    )


def _check_operator_value(where: str, operator: str, value: Any) -> None:
    match operator:
        case "value":
            ok = True
        case "default":
            ok = value is not None
        case "add" | "subset_of" | "superset_of":
            ok = _is_array_of_values(value)
        case "one_of":
            ok = _is_array_of_values(value) and bool(value)
        case "essential":
            ok = isinstance(value, bool)
        case _:  # pragma: no cover - only standard operators reach here
            ok = False
    if not ok:
        raise _error(Reason.INVALID_POLICY, where, f"the {operator} operator has a wrong value")


def check_combinations(where: str, operators: Mapping[str, Any]) -> None:
    """Refuse operator combinations that section 6.1.3.1 does not allow."""
    if "one_of" in operators:
        for other in ("add", "subset_of", "superset_of"):
            if other in operators:
                raise _error(
                    Reason.POLICY_CONFLICT, where, f"one_of cannot be combined with {other}"
                )
    if "value" in operators:
        value = operators["value"]
        if "add" in operators and not (
            isinstance(value, list) and _is_subset(operators["add"], value)
        ):
            raise _error(Reason.POLICY_CONFLICT, where, "add values are not a subset of value")
        if "default" in operators and value is None:
            raise _error(
                Reason.POLICY_CONFLICT, where, "default cannot be combined with value null"
            )
        if "one_of" in operators and _canonical(value) not in _keys(operators["one_of"]):
            raise _error(Reason.POLICY_CONFLICT, where, "value is not among the one_of values")
        if "subset_of" in operators and not (
            isinstance(value, list) and _is_subset(value, operators["subset_of"])
        ):
            raise _error(Reason.POLICY_CONFLICT, where, "value is not a subset of subset_of")
        if "superset_of" in operators and not (
            isinstance(value, list) and _is_subset(operators["superset_of"], value)
        ):
            raise _error(Reason.POLICY_CONFLICT, where, "value is not a superset of superset_of")
        if value is None and operators.get("essential") is True:
            raise _error(Reason.POLICY_CONFLICT, where, "value null contradicts essential true")
    if (
        "add" in operators
        and "subset_of" in operators
        and not _is_subset(operators["add"], operators["subset_of"])
    ):
        raise _error(Reason.POLICY_CONFLICT, where, "add values are not a subset of subset_of")
    if (
        "subset_of" in operators
        and "superset_of" in operators
        and not _is_subset(operators["superset_of"], operators["subset_of"])
    ):
        raise _error(Reason.POLICY_CONFLICT, where, "subset_of is not a superset of superset_of")


def validate_parameter_policy(
    where: str, operators: object, *, critical_operators: Collection[str] = frozenset()
) -> dict[str, Any]:
    """Validate one metadata parameter policy; return it without ignorable unknown operators."""
    if not isinstance(operators, dict):
        raise _error(Reason.INVALID_POLICY, where, "the parameter policy is not a JSON object")
    result: dict[str, Any] = {}
    for operator, value in operators.items():
        if operator in STANDARD_OPERATORS:
            _check_operator_value(where, operator, value)
            result[operator] = copy.deepcopy(value)
        elif operator in critical_operators and operator not in SUPPORTED_ADDITIONAL_OPERATORS:
            raise _error(
                Reason.UNKNOWN_CRITICAL_OPERATOR,
                where,
                f"the critical operator {operator!r} is not understood",
            )
        # Otherwise an additional operator that is not understood: ignored (section 6.1.3.2).
    check_combinations(where, result)
    return result


def validate_metadata_policy(
    policy: object, *, critical_operators: Collection[str] = frozenset()
) -> Policy:
    """Validate a ``metadata_policy`` claim value (section 6.1.2) and return a clean copy."""
    if not isinstance(policy, dict):
        raise TrustChainError(Reason.INVALID_POLICY, "metadata_policy is not a JSON object")
    result: Policy = {}
    for entity_type, parameters in policy.items():
        if not isinstance(parameters, dict):
            raise TrustChainError(
                Reason.INVALID_POLICY, f"the policy for {entity_type!r} is not a JSON object"
            )
        result[entity_type] = {
            name: validate_parameter_policy(
                f"{entity_type}.{name}", operators, critical_operators=critical_operators
            )
            for name, operators in parameters.items()
        }
    return result


# --- resolution (merging) ------------------------------------------------------------------


def _merge_operator(where: str, operator: str, superior: Any, subordinate: Any) -> Any:
    match operator:
        case "value" | "default":
            if _canonical(superior) != _canonical(subordinate):
                raise _error(
                    Reason.POLICY_CONFLICT, where, f"{operator} differs from the superior's"
                )
            return superior
        case "add" | "superset_of":
            return _union(superior, subordinate)
        case "one_of":
            merged = _intersection(superior, subordinate)
            if not merged:
                raise _error(Reason.POLICY_CONFLICT, where, "the one_of values do not intersect")
            return merged
        case "subset_of":
            return _intersection(superior, subordinate)
        case "essential":
            return bool(superior or subordinate)
        case _:  # pragma: no cover - unknown operators were dropped by validation
            raise _error(Reason.INVALID_POLICY, where, f"cannot merge {operator!r}")


def combine_policies(
    superior: object, subordinate: object, *, critical_operators: Collection[str] = frozenset()
) -> Policy:
    """Merge ``subordinate`` into ``superior`` at the three levels of section 6.1.4.1.

    Both policies are validated first; the merged parameter policies are checked again for
    allowed combinations. The inputs are not modified.
    """
    result = validate_metadata_policy(superior, critical_operators=critical_operators)
    lower = validate_metadata_policy(subordinate, critical_operators=critical_operators)
    for entity_type, parameters in lower.items():
        current = result.setdefault(entity_type, {})
        for name, operators in parameters.items():
            where = f"{entity_type}.{name}"
            if name not in current:
                current[name] = operators
                continue
            merged = dict(current[name])
            for operator, value in operators.items():
                merged[operator] = (
                    _merge_operator(where, operator, merged[operator], value)
                    if operator in merged
                    else value
                )
            check_combinations(where, merged)
            current[name] = merged
    return result


def resolve_metadata_policy(
    policies: Sequence[object], *, critical_operators: Collection[str] = frozenset()
) -> Policy:
    """Merge the ``metadata_policy`` claims of a chain, most superior first (section 6.1.4.1)."""
    resolved: Policy = {}
    for policy in policies:
        resolved = combine_policies(resolved, policy, critical_operators=critical_operators)
    return resolved


# --- application ---------------------------------------------------------------------------


def _scope_list(value: Any) -> Any:
    return value.split() if isinstance(value, str) else value


def _apply_parameter(
    where: str, present: bool, current: Any, operators: Mapping[str, Any]
) -> tuple[bool, Any]:
    """Apply one parameter policy in the order of section 6.1.3.1; return (present, value)."""
    if "value" in operators:
        if operators["value"] is None:
            present, current = False, None
        else:
            present, current = True, copy.deepcopy(operators["value"])
    if "add" in operators:
        if not present:
            present, current = True, list(operators["add"])
        elif isinstance(current, list):
            current = _union(current, operators["add"])
        else:
            raise _error(Reason.POLICY_VIOLATION, where, "add needs an array parameter")
    if "default" in operators and not present:
        present, current = True, copy.deepcopy(operators["default"])
    if "one_of" in operators and present:
        if isinstance(current, list | bool) or current is None:
            raise _error(Reason.POLICY_VIOLATION, where, "one_of needs a single value")
        if _canonical(current) not in _keys(operators["one_of"]):
            raise _error(Reason.POLICY_VIOLATION, where, "the value is not one of those allowed")
    if "subset_of" in operators and present:
        if not isinstance(current, list):
            raise _error(Reason.POLICY_VIOLATION, where, "subset_of needs an array parameter")
        current = _intersection(current, operators["subset_of"])
    if "superset_of" in operators and present:
        if not isinstance(current, list):
            raise _error(Reason.POLICY_VIOLATION, where, "superset_of needs an array parameter")
        if not _is_subset(operators["superset_of"], current):
            raise _error(Reason.POLICY_VIOLATION, where, "required values are missing")
    if operators.get("essential") is True and not present:
        raise _error(Reason.POLICY_VIOLATION, where, "the parameter is essential but absent")
    return present, current


def apply_policy(metadata: Mapping[str, Any], policy: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a parameter-level policy (name -> operators) to one Entity Type's metadata.

    ``policy`` must have been validated (:func:`validate_metadata_policy` or
    :func:`combine_policies`). Returns a new dict; raises ``policy_violation`` when the
    metadata cannot satisfy the policy.
    """
    result = copy.deepcopy(dict(metadata))
    for name, raw_operators in policy.items():
        operators = validate_parameter_policy(name, raw_operators)
        is_scope = name == _SCOPE
        if is_scope:
            operators = {op: _scope_list(value) for op, value in operators.items()}
        present = name in result
        current = _scope_list(result.get(name)) if is_scope else result.get(name)
        present, current = _apply_parameter(name, present, current, operators)
        if not present:
            result.pop(name, None)
        elif is_scope and isinstance(current, list):
            result[name] = " ".join(str(item) for item in current)
        else:
            result[name] = current
    return result


def apply_metadata_policy(
    metadata: Mapping[str, Mapping[str, Any]], policy: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Apply a resolved ``metadata_policy`` to every Entity Type present in ``metadata``."""
    return {
        entity_type: apply_policy(parameters, policy.get(entity_type, {}))
        for entity_type, parameters in metadata.items()
    }


def apply_metadata_override(
    metadata: Mapping[str, Mapping[str, Any]], superior_metadata: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Apply the immediate superior's ``metadata`` claim (section 3.1 ``metadata``).

    Its parameters override the subject's under the same Entity Type, only for Entity Types
    present in the subject's Entity Configuration.
    """
    result = {entity_type: dict(parameters) for entity_type, parameters in metadata.items()}
    for entity_type, parameters in (superior_metadata or {}).items():
        if entity_type in result and isinstance(parameters, Mapping):
            result[entity_type].update(copy.deepcopy(dict(parameters)))
    return copy.deepcopy(result)
