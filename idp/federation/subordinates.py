"""A Trust Anchor's Immediate Subordinates (OpenID Federation 1.0, sections 3.1.3, 6 and 8).

What an operator registers about a Subordinate is checked here before anything is stored:

- the Entity Identifier is an https URL (plain http only on a loopback host) without query,
  fragment or user information (section 1.2);
- its Federation Entity Keys are a JWK Set of public signing keys only, each with a unique
  ``kid`` (section 3.1 ``jwks``; a private member such as ``d`` is refused, never stored);
- the ``metadata_policy`` is valid per section 6.1 (operators, their values and combinations);
- the ``constraints`` use only the parameters of section 6.2 with values of the right shape;
- a ``metadata`` override (section 6.1.4.2) is an object of Entity Type objects without nulls.

Storage functions take the caller's session and never commit: the caller's transaction owns
the change (and its audit record).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.config import entity_identifier_problem
from idp.federation.entity import ENTITY_TYPES, OPENID_PROVIDER, SubordinateView
from idp.federation.policy import validate_metadata_policy
from idp.federation.statements import TrustChainError, index_jwks, parse_json_object
from idp.storage.models import FederationSubordinate, SubordinateStatus

CONSTRAINT_PARAMETERS = frozenset({"max_path_length", "naming_constraints", "allowed_entity_types"})


class SubordinateError(ValueError):
    """A Subordinate cannot be registered or changed; one sentence for the operator."""


# --- validation (pure) ---------------------------------------------------------------------


def check_entity_id(entity_id: str) -> str:
    problem = entity_identifier_problem(entity_id)
    if problem:
        raise SubordinateError(f"Not an entity identifier: {problem}")
    return entity_id


def parse_document(text: str, *, what: str) -> dict[str, Any]:
    """A strict JSON object (no duplicate names) read from an operator's file."""
    try:
        return parse_json_object(text, what=what)
    except TrustChainError as exc:
        raise SubordinateError(f"{exc.message[:1].upper()}{exc.message[1:]}.") from None


def check_jwks(jwks: object) -> dict[str, Any]:
    """Public signing keys only (section 3.1); the error names the key, never its members."""
    try:
        index_jwks(jwks)
    except TrustChainError as exc:
        raise SubordinateError(f"The JWK Set is not usable: {exc.message}.") from None
    return copy.deepcopy(jwks)  # type: ignore[return-value]


def check_policy(policy: object) -> dict[str, Any]:
    try:
        return validate_metadata_policy(policy)
    except TrustChainError as exc:
        raise SubordinateError(f"The metadata policy is not valid: {exc.message}.") from None


def _string_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SubordinateError(f"The constraints are not valid: {what} must be a list of strings.")
    return value


def check_constraints(constraints: object) -> dict[str, Any]:
    """Section 6.2: max_path_length, naming_constraints and allowed_entity_types only."""
    if not isinstance(constraints, dict):
        raise SubordinateError("The constraints are not a JSON object.")
    unknown = sorted(set(constraints) - CONSTRAINT_PARAMETERS)
    if unknown:
        raise SubordinateError(f"The constraints are not valid: unknown parameter {unknown[0]!r}.")
    if "max_path_length" in constraints:
        value = constraints["max_path_length"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SubordinateError(
                "The constraints are not valid: max_path_length must be an integer >= 0."
            )
    if "naming_constraints" in constraints:
        naming = constraints["naming_constraints"]
        if not isinstance(naming, dict) or set(naming) - {"permitted", "excluded"}:
            raise SubordinateError(
                "The constraints are not valid: naming_constraints may only have permitted "
                "and excluded."
            )
        for name, value in naming.items():
            _string_list(value, f"naming_constraints.{name}")
    if "allowed_entity_types" in constraints:
        _string_list(constraints["allowed_entity_types"], "allowed_entity_types")
    return copy.deepcopy(constraints)


def check_metadata_override(metadata: object) -> dict[str, Any]:
    if not isinstance(metadata, dict) or not all(
        isinstance(parameters, dict) and None not in parameters.values()
        for parameters in metadata.values()
    ):
        raise SubordinateError(
            "The metadata is not valid: it must map Entity Types to objects without nulls."
        )
    return copy.deepcopy(metadata)


def check_entity_types(entity_types: Sequence[str]) -> list[str]:
    types = list(dict.fromkeys(entity_types)) or [OPENID_PROVIDER]
    for entity_type in types:
        if entity_type not in ENTITY_TYPES:
            raise SubordinateError(
                f"Unknown entity type {entity_type!r}; use one of {', '.join(ENTITY_TYPES)}."
            )
    return types


# --- storage -------------------------------------------------------------------------------


def _find(session: Session, entity_id: str) -> FederationSubordinate | None:
    return session.scalars(
        select(FederationSubordinate).where(FederationSubordinate.entity_id == entity_id)
    ).one_or_none()


def _audit(session: Session, action: str, row: FederationSubordinate, now: datetime) -> None:
    audit_log.append(
        session,
        event=AuditEvent.FEDERATION_SUBORDINATE_CHANGED,
        actor="operator",
        now=now,
        details={"action": action, "entity_id": row.entity_id},
    )


def add_subordinate(
    session: Session,
    *,
    entity_id: str,
    issuer: str,
    jwks: object,
    metadata_policy: object,
    constraints: object,
    metadata: object | None,
    entity_types: Sequence[str],
    now: datetime,
) -> FederationSubordinate:
    """Register an Immediate Subordinate (a removed one is registered again in its row)."""
    check_entity_id(entity_id)
    if entity_id.rstrip("/") == issuer.rstrip("/"):
        raise SubordinateError("A Trust Anchor cannot be its own subordinate.")
    values: dict[str, Any] = {
        "jwks": check_jwks(jwks),
        "metadata_policy": check_policy(metadata_policy),
        "constraints": check_constraints(constraints),
        "metadata_override": None if metadata is None else check_metadata_override(metadata),
        "entity_types": check_entity_types(entity_types),
    }
    row = _find(session, entity_id)
    if row is not None and row.status == SubordinateStatus.ACTIVE:
        raise SubordinateError(
            f"{entity_id} is already a subordinate; remove it first to register it again."
        )
    if row is None:
        row = FederationSubordinate(entity_id=entity_id, created_at=now, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    row.status = SubordinateStatus.ACTIVE
    row.updated_at = now
    session.flush()
    _audit(session, "added", row, now)
    return row


def update_subordinate(
    session: Session,
    *,
    entity_id: str,
    jwks: object | None = None,
    metadata_policy: object | None = None,
    constraints: object | None = None,
    metadata: object | None = None,
    entity_types: Sequence[str] = (),
    now: datetime,
) -> FederationSubordinate:
    """Change what is stated about an active Subordinate; only the given parts change (a new
    key set after the Subordinate rotated its keys, a new policy), all checked first."""
    values: dict[str, Any] = {}
    if jwks is not None:
        values["jwks"] = check_jwks(jwks)
    if metadata_policy is not None:
        values["metadata_policy"] = check_policy(metadata_policy)
    if constraints is not None:
        values["constraints"] = check_constraints(constraints)
    if metadata is not None:
        values["metadata_override"] = check_metadata_override(metadata) or None
    if entity_types:
        values["entity_types"] = check_entity_types(entity_types)
    row = _find(session, entity_id)
    if row is None or row.status != SubordinateStatus.ACTIVE:
        raise SubordinateError(f"There is no subordinate {entity_id}.")
    if not values:
        raise SubordinateError("Nothing to change; give at least one file or --entity-type.")
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    session.flush()
    _audit(session, "updated", row, now)
    return row


def remove_subordinate(session: Session, *, entity_id: str, now: datetime) -> FederationSubordinate:
    """Stop issuing statements about a Subordinate (its row stays, marked removed)."""
    row = _find(session, entity_id)
    if row is None or row.status != SubordinateStatus.ACTIVE:
        raise SubordinateError(f"There is no subordinate {entity_id}.")
    row.status = SubordinateStatus.REMOVED
    row.updated_at = now
    session.flush()
    _audit(session, "removed", row, now)
    return row


def list_subordinates(
    session: Session, *, entity_type: str | None = None, include_removed: bool = False
) -> list[FederationSubordinate]:
    query = select(FederationSubordinate).order_by(FederationSubordinate.entity_id)
    if not include_removed:
        query = query.where(FederationSubordinate.status == SubordinateStatus.ACTIVE)
    rows = list(session.scalars(query))
    if entity_type is not None:  # a JSON list column: filtered here, the same on every backend
        rows = [row for row in rows if entity_type in row.entity_types]
    return rows


def active_subordinate(session: Session, entity_id: str) -> SubordinateView | None:
    row = _find(session, entity_id)
    if row is None or row.status != SubordinateStatus.ACTIVE:
        return None
    return view_of(row)


def view_of(row: FederationSubordinate) -> SubordinateView:
    return SubordinateView(
        entity_id=row.entity_id,
        jwks=copy.deepcopy(row.jwks),
        metadata_policy=copy.deepcopy(row.metadata_policy),
        constraints=copy.deepcopy(row.constraints),
        metadata=copy.deepcopy(row.metadata_override),
        entity_types=tuple(row.entity_types),
    )


def describe(row: FederationSubordinate) -> dict[str, Any]:
    """One Subordinate for the operator (keys by kid only)."""
    keys = row.jwks.get("keys", []) if isinstance(row.jwks, dict) else []
    return {
        "entity_id": row.entity_id,
        "status": row.status,
        "entity_types": list(row.entity_types),
        "kids": [key.get("kid") for key in keys if isinstance(key, dict)],
        "metadata_policy": row.metadata_policy,
        "constraints": row.constraints,
        "metadata": row.metadata_override,
        "created": row.created_at,
        "updated": row.updated_at,
    }
