"""The assurance gate of the authorization flow: the level a request asks for, against what
the account and this login can give.

``acr = min(verification level, authentication strength)`` (``idp.assurance.levels``). For a
request that asks for level N (``acr_values``, an essential ``acr`` in ``claims``):

- the account's verification level is below N: no login can help. The client gets
  ``unmet_authentication_requirements`` (OpenID Connect Core Unmet Authentication
  Requirements 1.0) and the citizen a page that says how to raise their level, with a button
  that returns them to the service (straight back with ``prompt=none``);
- the session's strength is below N: the citizen is asked only for the missing method (a TOTP
  code for level 2, the eID card for level 3) and the parked request resumes afterwards;
- otherwise the flow goes on to consent and the code, whose grant records the ``acr`` and
  ``amr`` this login earned at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from idp.assurance.levels import AcrRequirement, acr_level, requested_requirement
from idp.assurance.methods import (
    AuthMethod,
    live_methods,
    session_strength,
)
from idp.assurance.profiles import PROFILES, AcrProfile
from idp.config import Settings
from idp.oidc.authorize import ValidatedRequest
from idp.storage import citizens as citizen_store
from idp.storage.models import BrowserSession, Citizen


@dataclass(frozen=True, slots=True)
class Assurance:
    """What the account and the session give now, in the deployment's vocabulary."""

    verification: int
    strength: int
    acr: str | None
    amr: list[str]


@dataclass(frozen=True, slots=True)
class Proceed:
    assurance: Assurance


@dataclass(frozen=True, slots=True)
class StepUpNeeded:
    required_level: int


@dataclass(frozen=True, slots=True)
class Unmet:
    required_level: int
    verification: int


GateOutcome = Proceed | StepUpNeeded | Unmet


def profile_of(settings: Settings) -> AcrProfile:
    return PROFILES[settings.acr_profile]


def step_up_lifetime(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.step_up_lifetime_seconds)


def current_assurance(
    db: Session,
    *,
    settings: Settings,
    citizen: Citizen,
    browser_session: BrowserSession,
    now: datetime,
) -> Assurance:
    profile = profile_of(settings)
    lifetime = step_up_lifetime(settings)
    verification = citizen_store.verification_level(db, citizen_id=citizen.id)
    strength = session_strength(browser_session.auth_methods, now=now, step_up_lifetime=lifetime)
    live = live_methods(browser_session.auth_methods, now=now, step_up_lifetime=lifetime)
    federation = federated_login(browser_session)
    if federation is not None:
        return Assurance(
            verification=verification,
            strength=federation.level,
            acr=profile.acr_for(
                acr_level(verification=verification, authentication=federation.level)
            ),
            amr=list(federation.amr),
        )
    return Assurance(
        verification=verification,
        strength=strength,
        acr=profile.acr_for(acr_level(verification=verification, authentication=strength)),
        amr=profile.amr_for(live),
    )


@dataclass(frozen=True, slots=True)
class FederatedLogin:
    """How a peer provider authenticated the citizen of a cross-border session."""

    issuer: str
    level: int
    amr: tuple[str, ...]


def federated_login(browser_session: BrowserSession) -> FederatedLogin | None:
    """The session's cross-border login, or None for a login made here. The level counts
    only while the federation method is the session's login (a later password login as
    another citizen clears it)."""
    data = browser_session.federation
    methods = browser_session.auth_methods or {}
    if not isinstance(data, dict) or AuthMethod.FEDERATION.value not in methods:
        return None
    level, amr = data.get("level"), data.get("amr")
    if not isinstance(level, int) or not isinstance(amr, list):
        return None
    return FederatedLogin(
        issuer=str(data.get("issuer", "")), level=level, amr=tuple(str(v) for v in amr)
    )


def requirement_of(settings: Settings, request: ValidatedRequest) -> AcrRequirement:
    return requested_requirement(
        profile_of(settings), acr_values=request.acr_values, claims=request.claims_request()
    )


def gate(requirement: AcrRequirement, assurance: Assurance) -> GateOutcome:
    """Decide: go on, step up, or never (see the module docstring)."""
    if not requirement.satisfiable or requirement.minimum_level > assurance.verification:
        return Unmet(required_level=requirement.minimum_level, verification=assurance.verification)
    if assurance.strength < requirement.minimum_level:
        return StepUpNeeded(required_level=requirement.minimum_level)
    return Proceed(assurance=assurance)
