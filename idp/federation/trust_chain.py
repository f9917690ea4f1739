"""Trust Chains: resolution, validation and caching (OpenID Federation 1.0, sections 4 and 10).

- :func:`resolve_trust_chain` walks ``authority_hints`` upward from the subject's Entity
  Configuration (section 10.1 "Fetching Entity Statements to Establish a Trust Chain"),
  breadth-first so that the shortest valid chain wins (section 10.3 "Choosing One of the Valid
  Trust Chains"), never fetching a statement twice and never following a hint that loops back
  into the current path. The walk is bounded in depth, in authority hints per entity and in
  fetches.
- :func:`validate_trust_chain` checks a sequence of statements ES[0..i] exactly as section 10.2
  "Validating a Trust Chain" says: every statement well formed and current; ES[0] an Entity
  Configuration signed by a key in ES[0]["jwks"]; for each j < i, ES[j]["iss"] == ES[j+1]["sub"]
  and ES[j] signed by a key in ES[j+1]["jwks"]; ES[i] the Entity Configuration of a configured
  Trust Anchor, signed by the Trust Anchor's pinned key. It then enforces each Subordinate
  Statement's ``constraints`` (section 6.2) and resolves the metadata (section 6.1.4): the
  immediate superior's ``metadata`` first, then ``allowed_entity_types``, then the merged
  ``metadata_policy``. The chain expires at the earliest ``exp`` (section 10.4).
- :class:`TrustChainCache` keeps resolved chains until they expire, bounded in size.

Nothing here does I/O itself: statements come from a :class:`Fetcher`
(:class:`idp.federation.fetcher.HttpFetcher` over HTTPS).
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from idp.federation.policy import (
    apply_metadata_override,
    apply_metadata_policy,
    check_metadata_policy_crit,
    resolve_metadata_policy,
)
from idp.federation.statements import (
    DEFAULT_ALLOWED_ALGORITHMS,
    DEFAULT_LEEWAY_SECONDS,
    Reason,
    TrustChainError,
    check_claims,
    decode_unverified,
    verify_entity_statement,
)

FEDERATION_ENTITY = "federation_entity"
DEFAULT_MAX_DEPTH = 5
MAX_AUTHORITY_HINTS = 8
MAX_FETCHES = 40
_ISSUER_BOUND_TYPES = ("openid_provider", "oauth_authorization_server")


class Fetcher(Protocol):
    """Where statements come from: the configuration endpoint and superiors' fetch endpoints."""

    def fetch_entity_configuration(self, entity_id: str) -> str:
        """The compact JWS served at ``entity_id`` + ``/.well-known/openid-federation``."""
        ...

    def fetch_subordinate_statement(self, fetch_endpoint: str, issuer: str, subject: str) -> str:
        """The Subordinate Statement by ``issuer`` about ``subject`` from its fetch endpoint."""
        ...


@dataclass(frozen=True, slots=True)
class TrustChain:
    """A validated Trust Chain and the metadata it resolves for its subject."""

    entity_id: str
    trust_anchor_id: str
    statements: tuple[str, ...]
    """Compact JWSs, subject's Entity Configuration first, Trust Anchor's last."""
    expires_at: int
    entity_type: str
    metadata: dict[str, Any]
    """Resolved Metadata for ``entity_type``."""
    leaf_jwks: dict[str, Any]
    """The subject's Federation Entity Keys as its immediate superior attests them."""
    all_metadata: dict[str, dict[str, Any]] = field(repr=False)

    def resolved_metadata(self, entity_type: str) -> dict[str, Any]:
        """Resolved Metadata for any Entity Type of the subject (a copy)."""
        if entity_type not in self.all_metadata:
            raise TrustChainError(
                Reason.MISSING_ENTITY_TYPE,
                f"{self.entity_id} has no {entity_type} metadata in this Trust Chain",
            )
        return copy.deepcopy(self.all_metadata[entity_type])

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at


# --- constraints (section 6.2) -------------------------------------------------------------


def _host(entity_id: str) -> str:
    try:
        host = urlsplit(entity_id).hostname
    except ValueError:
        host = None
    if not host:
        raise TrustChainError(
            Reason.CONSTRAINT_VIOLATION, f"{entity_id!r} has no host for naming constraints"
        )
    return host.lower()


def _name_matches(host: str, constraint: str) -> bool:
    """RFC 5280 section 4.2.1.10 host/domain matching as section 6.2.2 describes it."""
    constraint = constraint.lower()
    if constraint.startswith("."):
        return host.endswith(constraint)
    return host == constraint


def _string_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TrustChainError(Reason.MALFORMED, f"{what} must be an array of strings")
    return value


def _check_constraints(claims: Sequence[Mapping[str, Any]], j: int) -> list[str] | None:
    """Enforce the constraints of Subordinate Statement ES[j]; return allowed_entity_types."""
    constraints = claims[j].get("constraints")
    if constraints is None:
        return None
    issuer = claims[j]["iss"]
    max_path_length = constraints.get("max_path_length")
    if max_path_length is not None:
        if (
            not isinstance(max_path_length, int)
            or isinstance(max_path_length, bool)
            or max_path_length < 0
        ):
            raise TrustChainError(Reason.MALFORMED, "max_path_length must be an integer >= 0")
        intermediates = j - 1  # Entities strictly between the issuer of ES[j] and the subject
        if intermediates > max_path_length:
            raise TrustChainError(
                Reason.PATH_TOO_LONG,
                f"{issuer} allows {max_path_length} intermediates, the chain has {intermediates}",
            )
    naming = constraints.get("naming_constraints")
    if naming is not None:
        if not isinstance(naming, dict):
            raise TrustChainError(Reason.MALFORMED, "naming_constraints must be a JSON object")
        permitted = _string_list(naming.get("permitted", []), "permitted")
        excluded = _string_list(naming.get("excluded", []), "excluded")
        for k in range(j + 1):  # the subject of ES[j] and every Entity below it
            subject = claims[k]["sub"]
            host = _host(subject)
            if any(_name_matches(host, name) for name in excluded):
                raise TrustChainError(
                    Reason.CONSTRAINT_VIOLATION, f"{issuer} excludes the name of {subject}"
                )
            if permitted and not any(_name_matches(host, name) for name in permitted):
                raise TrustChainError(
                    Reason.CONSTRAINT_VIOLATION, f"{issuer} does not permit the name of {subject}"
                )
    allowed = constraints.get("allowed_entity_types")
    if allowed is None:
        return None
    return _string_list(allowed, "allowed_entity_types")


# --- validation (section 10.2) -------------------------------------------------------------


def validate_trust_chain(
    statements: Sequence[str],
    *,
    trust_anchors: Mapping[str, Mapping[str, Any]],
    now: int,
    entity_type: str = "openid_provider",
    allowed_algs: Collection[str] = DEFAULT_ALLOWED_ALGORITHMS,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    max_length: int = DEFAULT_MAX_DEPTH + 2,
) -> TrustChain:
    """Validate ES[0..i] (subject's configuration first) and resolve the subject's metadata.

    ``trust_anchors`` maps each trusted Trust Anchor's Entity Identifier to its pinned JWK Set.
    Raises :class:`TrustChainError`; returns the :class:`TrustChain` otherwise.
    """
    if not statements:
        raise TrustChainError(Reason.MALFORMED, "the Trust Chain is empty")
    if len(statements) > max_length:
        raise TrustChainError(Reason.PATH_TOO_LONG, "the Trust Chain has too many statements")
    claims = [decode_unverified(token)[1] for token in statements]
    # Cheap checks first (section 10.2 allows verifying signatures last).
    for item in claims:
        check_claims(item, now=now, leeway=leeway)
    last = len(statements) - 1
    subject, anchor = claims[0], claims[last]
    if subject["iss"] != subject["sub"]:
        raise TrustChainError(
            Reason.BROKEN_LINK, "the chain does not begin with an Entity Configuration"
        )
    if anchor["iss"] != anchor["sub"]:
        raise TrustChainError(
            Reason.BROKEN_LINK, "the chain does not end with an Entity Configuration"
        )
    trust_anchor_id = anchor["iss"]
    if trust_anchor_id not in trust_anchors:
        raise TrustChainError(
            Reason.UNKNOWN_TRUST_ANCHOR, f"{trust_anchor_id} is not a configured Trust Anchor"
        )
    for j in range(1, last):
        if claims[j]["iss"] == claims[j]["sub"]:
            raise TrustChainError(
                Reason.BROKEN_LINK, f"statement {j} should be a Subordinate Statement"
            )
    for j in range(last):
        if claims[j]["iss"] != claims[j + 1]["sub"]:
            raise TrustChainError(
                Reason.BROKEN_LINK,
                f"statement {j} is issued by {claims[j]['iss']}, "
                f"but statement {j + 1} is about {claims[j + 1]['sub']}",
            )
    if last > 0 and claims[1]["iss"] not in subject.get("authority_hints", []):
        raise TrustChainError(
            Reason.BROKEN_LINK, f"{claims[1]['iss']} is not an authority hint of the subject"
        )

    def verify(index: int, jwks: object) -> None:
        verify_entity_statement(
            statements[index],
            jwks=jwks,
            now=now,
            expected_iss=claims[index]["iss"],
            expected_sub=claims[index]["sub"],
            allowed_algs=allowed_algs,
            leeway=leeway,
        )

    verify(last, trust_anchors[trust_anchor_id])  # the pinned key, obtained out of band
    verify(0, subject["jwks"])  # the subject's self-signature
    for j in range(last):
        verify(j, claims[j + 1]["jwks"])

    # Constraints of every Subordinate Statement (section 6.2), independently.
    allowed_types: set[str] | None = None
    for j in range(1, last):
        allowed = _check_constraints(claims, j)
        if allowed is not None:
            narrowed = set(allowed) | {FEDERATION_ENTITY}
            allowed_types = narrowed if allowed_types is None else allowed_types & narrowed

    # Metadata (section 6.1.4.2): superior's metadata, then entity types, then the policy.
    metadata = apply_metadata_override(
        subject.get("metadata", {}), claims[1].get("metadata") if last > 1 else None
    )
    removed: set[str] = set()
    if allowed_types is not None:
        removed = set(metadata) - allowed_types
        metadata = {name: value for name, value in metadata.items() if name in allowed_types}
    critical: set[str] = set()
    for j in range(1, last):
        critical |= check_metadata_policy_crit(claims[j].get("metadata_policy_crit"))
    policies = [
        claims[j]["metadata_policy"]
        for j in range(last - 1, 0, -1)
        if "metadata_policy" in claims[j]
    ]
    resolved = apply_metadata_policy(
        metadata, resolve_metadata_policy(policies, critical_operators=critical)
    )
    entity_id = subject["sub"]
    for bound_type in _ISSUER_BOUND_TYPES:
        issuer = resolved.get(bound_type, {}).get("issuer")
        if issuer is not None and issuer != entity_id:
            raise TrustChainError(
                Reason.INVALID_METADATA,
                f"the {bound_type} issuer {issuer!r} is not the Entity Identifier {entity_id}",
            )
    if entity_type not in resolved:
        if entity_type in removed:
            raise TrustChainError(
                Reason.CONSTRAINT_VIOLATION,
                f"allowed_entity_types in the chain do not allow {entity_type}",
            )
        raise TrustChainError(
            Reason.MISSING_ENTITY_TYPE, f"{entity_id} has no {entity_type} metadata"
        )
    return TrustChain(
        entity_id=entity_id,
        trust_anchor_id=trust_anchor_id,
        statements=tuple(statements),
        expires_at=int(min(item["exp"] for item in claims)),
        entity_type=entity_type,
        metadata=copy.deepcopy(resolved[entity_type]),
        leaf_jwks=copy.deepcopy(claims[1]["jwks"] if last > 1 else subject["jwks"]),
        all_metadata=resolved,
    )


# --- resolution (section 10.1) -------------------------------------------------------------


class _Resolver:
    def __init__(
        self,
        *,
        trust_anchors: Mapping[str, Mapping[str, Any]],
        fetcher: Fetcher,
        now: int,
        max_depth: int,
        entity_type: str,
        allowed_algs: Collection[str],
        leeway: int,
        max_fetches: int,
    ) -> None:
        self.trust_anchors = trust_anchors
        self.fetcher = fetcher
        self.now = now
        self.max_depth = max_depth
        self.entity_type = entity_type
        self.allowed_algs = allowed_algs
        self.leeway = leeway
        self.max_fetches = max_fetches
        self.fetches = 0
        self.configurations: dict[str, tuple[str, dict[str, Any]] | TrustChainError] = {}
        self.subordinates: dict[tuple[str, str], str | TrustChainError] = {}

    def _fetch(self, what: str, call: Callable[[], str]) -> str:
        if self.fetches >= self.max_fetches:
            raise TrustChainError(
                Reason.FETCH_LIMIT, f"more than {self.max_fetches} statements would be fetched"
            )
        self.fetches += 1
        try:
            token = call()
        except TrustChainError:
            raise
        except Exception as exc:  # any failure of the fetcher is a failed fetch
            raise TrustChainError(
                Reason.FETCH_FAILED, f"cannot fetch {what} ({type(exc).__name__})"
            ) from exc
        if not isinstance(token, str):
            raise TrustChainError(Reason.FETCH_FAILED, f"{what} is not a compact JWS")
        return token

    def entity_configuration(self, entity_id: str) -> tuple[str, dict[str, Any]]:
        cached = self.configurations.get(entity_id)
        if isinstance(cached, TrustChainError):
            raise cached
        if cached is not None:
            return cached
        try:
            token = self._fetch(
                f"the Entity Configuration of {entity_id}",
                lambda: self.fetcher.fetch_entity_configuration(entity_id),
            )
            _, unverified = decode_unverified(token)
            pinned = self.trust_anchors.get(entity_id)
            claims = verify_entity_statement(
                token,
                jwks=pinned if pinned is not None else unverified.get("jwks"),
                now=self.now,
                expected_iss=entity_id,
                expected_sub=entity_id,
                allowed_algs=self.allowed_algs,
                leeway=self.leeway,
            )
        except TrustChainError as exc:
            if exc.reason is not Reason.FETCH_LIMIT:
                self.configurations[entity_id] = exc
            raise
        self.configurations[entity_id] = (token, claims)
        return token, claims

    def subordinate_statement(
        self, superior_id: str, superior: Mapping[str, Any], subject_id: str
    ) -> str:
        key = (superior_id, subject_id)
        cached = self.subordinates.get(key)
        if isinstance(cached, TrustChainError):
            raise cached
        if cached is not None:
            return cached
        try:
            entity = superior.get("metadata", {}).get(FEDERATION_ENTITY, {})
            endpoint = entity.get("federation_fetch_endpoint")
            if not isinstance(endpoint, str) or not endpoint:
                raise TrustChainError(
                    Reason.BROKEN_LINK, f"{superior_id} publishes no federation_fetch_endpoint"
                )
            token = self._fetch(
                f"the Subordinate Statement by {superior_id} about {subject_id}",
                lambda: self.fetcher.fetch_subordinate_statement(endpoint, superior_id, subject_id),
            )
            # Section 3.2: signed by a key of the issuer's Entity Configuration.
            verify_entity_statement(
                token,
                jwks=superior["jwks"],
                now=self.now,
                expected_iss=superior_id,
                expected_sub=subject_id,
                allowed_algs=self.allowed_algs,
                leeway=self.leeway,
            )
        except TrustChainError as exc:
            if exc.reason in (Reason.WRONG_ISSUER, Reason.WRONG_SUBJECT):
                exc = TrustChainError(
                    Reason.BROKEN_LINK,
                    f"the statement fetched from {superior_id} about {subject_id}: {exc.message}",
                )
            if exc.reason is not Reason.FETCH_LIMIT:
                self.subordinates[key] = exc
            raise exc from None
        self.subordinates[key] = token
        return token

    def resolve(self, leaf_entity_id: str) -> TrustChain:
        leaf_token, _ = self.entity_configuration(leaf_entity_id)
        if leaf_entity_id in self.trust_anchors:
            return self._validate((leaf_token,))
        errors: list[TrustChainError] = []
        queue: deque[tuple[tuple[str, ...], tuple[str, ...]]] = deque(
            [((leaf_entity_id,), (leaf_token,))]
        )
        while queue:
            path, tokens = queue.popleft()
            current = path[-1]
            _, current_claims = self.entity_configuration(current)
            hints = current_claims.get("authority_hints") or []
            if not hints:
                errors.append(
                    TrustChainError(
                        Reason.UNKNOWN_TRUST_ANCHOR,
                        f"{current} has no authority hints and is not a configured Trust Anchor",
                    )
                )
                continue
            if len(hints) > MAX_AUTHORITY_HINTS:
                errors.append(
                    TrustChainError(Reason.MALFORMED, f"{current} has too many authority hints")
                )
                continue
            for hint in hints:
                try:
                    if hint in path:
                        raise TrustChainError(
                            Reason.LOOP, f"the authority hint {hint} of {current} loops back"
                        )
                    if len(path) > self.max_depth:
                        raise TrustChainError(
                            Reason.PATH_TOO_LONG,
                            f"no Trust Anchor within {self.max_depth} superiors",
                        )
                    superior_token, superior = self.entity_configuration(hint)
                    statement = self.subordinate_statement(hint, superior, current)
                    if hint in self.trust_anchors:
                        return self._validate((*tokens, statement, superior_token))
                    queue.append(((*path, hint), (*tokens, statement)))
                except TrustChainError as exc:
                    if exc.reason is Reason.FETCH_LIMIT:
                        raise
                    errors.append(exc)
        raise _no_chain(leaf_entity_id, errors)

    def _validate(self, statements: tuple[str, ...]) -> TrustChain:
        return validate_trust_chain(
            statements,
            trust_anchors=self.trust_anchors,
            now=self.now,
            entity_type=self.entity_type,
            allowed_algs=self.allowed_algs,
            leeway=self.leeway,
            max_length=self.max_depth + 2,
        )


_GENERIC_REASONS = (Reason.UNKNOWN_TRUST_ANCHOR, Reason.LOOP)


def _no_chain(leaf_entity_id: str, errors: list[TrustChainError]) -> TrustChainError:
    """The error to report when no path reached a Trust Anchor: the most specific one."""
    if not errors:
        return TrustChainError(
            Reason.UNKNOWN_TRUST_ANCHOR, f"no Trust Chain from {leaf_entity_id} to a Trust Anchor"
        )
    specific = [error for error in errors if error.reason not in _GENERIC_REASONS]
    chosen = (specific or errors)[0]
    if len(errors) == 1:
        return chosen
    others = sorted({error.reason.value for error in errors if error is not chosen})
    return TrustChainError(
        chosen.reason,
        f"{chosen.message} (other paths from {leaf_entity_id} failed: {', '.join(others)})",
    )


def resolve_trust_chain(
    leaf_entity_id: str,
    *,
    trust_anchors: Mapping[str, Mapping[str, Any]],
    fetcher: Fetcher,
    now: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    entity_type: str = "openid_provider",
    allowed_algs: Collection[str] = DEFAULT_ALLOWED_ALGORITHMS,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    max_fetches: int = MAX_FETCHES,
) -> TrustChain:
    """Find and validate the shortest Trust Chain from ``leaf_entity_id`` to a Trust Anchor.

    ``trust_anchors`` maps Trust Anchor Entity Identifiers to their pinned JWK Sets;
    ``max_depth`` bounds the number of superiors above the subject (intermediates plus the
    Trust Anchor). Raises :class:`TrustChainError` when no valid chain exists.
    """
    if not trust_anchors:
        raise TrustChainError(Reason.UNKNOWN_TRUST_ANCHOR, "no Trust Anchor is configured")
    resolver = _Resolver(
        trust_anchors=trust_anchors,
        fetcher=fetcher,
        now=now,
        max_depth=max_depth,
        entity_type=entity_type,
        allowed_algs=allowed_algs,
        leeway=leeway,
        max_fetches=max_fetches,
    )
    return resolver.resolve(leaf_entity_id)


# --- cache ---------------------------------------------------------------------------------


class TrustChainCache:
    """Resolved Trust Chains by (entity id, entity type), kept until the chain expires.

    Bounded: at most ``max_entries`` chains (least recently used evicted first), and, when
    ``max_age_seconds`` is set, no chain is served longer than that after it was stored, even
    if its statements live longer (a stated bound on staleness). Thread-safe; the clock is
    injectable for tests.
    """

    def __init__(
        self,
        *,
        max_entries: int = 256,
        max_age_seconds: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], tuple[float, TrustChain]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, entity_id: str, entity_type: str = "openid_provider") -> TrustChain | None:
        key = (entity_id, entity_type)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            valid_until, chain = entry
            if self._clock() >= valid_until:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return chain

    def put(self, chain: TrustChain) -> None:
        now = self._clock()
        valid_until = float(chain.expires_at)
        if self._max_age is not None:
            valid_until = min(valid_until, now + self._max_age)
        if now >= valid_until:
            return
        key = (chain.entity_id, chain.entity_type)
        with self._lock:
            self._entries[key] = (valid_until, chain)
            self._entries.move_to_end(key)
            if len(self._entries) > self._max_entries:
                self._purge_expired(now)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def _purge_expired(self, now: float) -> None:
        for key in [key for key, (until, _) in self._entries.items() if now >= until]:
            del self._entries[key]

    def invalidate(self, entity_id: str | None = None) -> None:
        """Forget one entity's chains, or all chains."""
        with self._lock:
            if entity_id is None:
                self._entries.clear()
                return
            for key in [key for key in self._entries if key[0] == entity_id]:
                del self._entries[key]

    def get_or_resolve(
        self, entity_id: str, entity_type: str, resolve: Callable[[], TrustChain]
    ) -> TrustChain:
        """The cached chain, or ``resolve()``'s result (stored unless already expired)."""
        chain = self.get(entity_id, entity_type)
        if chain is None:
            chain = resolve()
            self.put(chain)
        return chain
