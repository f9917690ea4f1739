"""A real Chromium (Debian's ``chromium``, driven by Playwright) against the real provider and
the real portal, each on its own uvicorn server (the ``live`` fixture of the portal's tests).

Nothing is downloaded by Playwright: the browser is found with ``shutil.which("chromium")`` or
``CHROMIUM_PATH``. axe-core comes from the npm registry once, into ``tests/browser/.axe/``
(git-ignored). Where the browser, Node or npm is missing these tests are skipped with the
reason, unless ``CI=true`` or ``IDP_TEST_REQUIRE_BROWSER=1``, which turn that into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from tests.browser.pages import open_page

# The portal's fixtures: both servers, the portal registered, María (level 0) and Juan (1).
from tests.relying_party_demo.conftest import (  # noqa: F401
    _no_ambient_portal_settings,
    client_key,
    live,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

REQUIRE_VARIABLE = "IDP_TEST_REQUIRE_BROWSER"
AXE_FOLDER = Path(__file__).parent / ".axe"
AXE_PACKAGE = "axe-core@4"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE) == "1" or os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Fail where the browser tests must run (CI), skip with ``reason`` elsewhere."""
    if browser_required():
        pytest.fail(f"the browser tests are required here (CI or {REQUIRE_VARIABLE}=1): {reason}")
    pytest.skip(f"browser tests: {reason}")


def chromium_path() -> str:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        if not os.access(configured, os.X_OK):
            unavailable(f"CHROMIUM_PATH={configured} is not an executable file")
        return configured
    path = shutil.which("chromium")
    if not path:
        unavailable("no Chromium (install Debian's `chromium` or set CHROMIUM_PATH)")
    return path


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The source of ``axe.min.js``, installed from npm into the git-ignored cache once."""
    script = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if not npm or not shutil.which("node"):
            unavailable("no Node.js and npm to install axe-core (Debian: `nodejs npm`)")
        AXE_FOLDER.mkdir(exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(AXE_FOLDER), "--no-audit", "--no-fund", AXE_PACKAGE],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not script.is_file():
            unavailable(f"`npm install {AXE_PACKAGE}` failed: {done.stderr.strip()[-500:]}")
    return script.read_text(encoding="utf-8")


# Package scope: Playwright's event loop is gone before the other test folders run.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (the `test` extra)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies, Spanish settings) that enforces every
    Content-Security-Policy, as a citizen's browser does."""
    with open_page(chromium) as tab:
        yield tab
