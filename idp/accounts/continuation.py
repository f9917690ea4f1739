"""What the citizen pages share: the signed-in citizen of a browser, and where to go next.

Pages reached in the middle of an authorization (login, step-up, enrolment) carry the parked
request's id in ``request_id`` and send the citizen back to ``AUTHORIZE_CONTINUE`` when done;
reached on their own, they return to the account page.

A signature request travels the same way: its id (``sig.`` and random characters, a form an
authorization request id can never take, since those have no dot) brings the citizen back
to the signature approval page instead.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from idp.oidc import endpoints
from idp.storage import citizens as citizen_store
from idp.storage.authorization import REQUEST_ID_PATTERN
from idp.storage.models import Citizen, CitizenStatus
from idp.web.browser import Browser

ACCOUNT_PAGE = "/account"
SIGNATURE_APPROVAL_PAGE = endpoints.SIGNATURE_APPROVE
SIGNATURE_REQUEST_ID_PATTERN = re.compile(r"sig\.[A-Za-z0-9_-]{32,56}")


def is_signature_request_id(value: str | None) -> bool:
    return bool(value) and SIGNATURE_REQUEST_ID_PATTERN.fullmatch(value or "") is not None


def pending_request_id(value: str | None) -> str | None:
    """An authorization or signature request id as the provider makes them, or None
    (anything else is dropped, never echoed into a link)."""
    if value and (REQUEST_ID_PATTERN.fullmatch(value) or is_signature_request_id(value)):
        return value
    return None


def with_request_id(path: str, request_id: str | None) -> str:
    return f"{path}?{urlencode({'request_id': request_id})}" if request_id else path


def continue_url(request_id: str | None) -> str:
    """Back to the parked authorization or signature request, or to the account page."""
    if is_signature_request_id(request_id):
        return with_request_id(SIGNATURE_APPROVAL_PAGE, request_id)
    if request_id:
        return with_request_id(endpoints.AUTHORIZE_CONTINUE, request_id)
    return ACCOUNT_PAGE


def active_citizen(browser: Browser) -> Citizen | None:
    """The citizen of this session while the account is active; the session of a disabled
    or deleted account ends here."""
    session = browser.session
    if session is None or session.citizen_id is None:
        return None
    citizen = citizen_store.get_by_id(browser.db, citizen_id=session.citizen_id)
    if citizen is None or citizen.status != CitizenStatus.ACTIVE:
        browser.sign_out()
        return None
    return citizen


def step_up_choices_url(request_id: str | None) -> str:
    """Where "use another method" leads: the method chooser of an authorization request; a
    signature request names its one method, so back to its approval page."""
    if is_signature_request_id(request_id):
        return with_request_id(SIGNATURE_APPROVAL_PAGE, request_id)
    return with_request_id(endpoints.STEP_UP, request_id)
