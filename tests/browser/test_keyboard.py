"""Logging in with the keyboard alone (WCAG 2.1.1, 2.4.3, 2.4.7, 2.4.11): Tab reaches the skip
link first, then the language links, the fields and the button in reading order; each shows a
visible focus indicator; Enter submits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.relying_party_demo.conftest import LEVEL_1_USERNAME, PASSWORD, LiveDemo

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Everything that can take focus, numbered in document order, with its look when not focused.
MARK_FOCUSABLE = """() => {
  const items = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea');
  return Array.from(items, (element, index) => {
    element.dataset.focusIndex = String(index);
    const style = getComputedStyle(element);
    return {outline: style.outlineStyle + ' ' + style.outlineWidth + ' ' + style.outlineColor,
            shadow: style.boxShadow};
  });
}"""

DESCRIBE_FOCUSED = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  return {
    index: element.dataset ? element.dataset.focusIndex : undefined,
    name: element.id ? '#' + element.id
      : element.tagName.toLowerCase() + ':' + (element.getAttribute('hreflang')
        || element.getAttribute('href') || element.textContent.trim()),
    outline: style.outlineStyle + ' ' + style.outlineWidth + ' ' + style.outlineColor,
    outlineWidth: parseFloat(style.outlineWidth) || 0,
    outlineStyle: style.outlineStyle,
    shadow: style.boxShadow,
    inViewport: box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0
      && box.right <= window.innerWidth && box.bottom <= window.innerHeight,
  };
}"""


def _tab(page: Page) -> dict[str, Any]:
    page.keyboard.press("Tab")
    return dict(page.evaluate(DESCRIBE_FOCUSED))


def _assert_visibly_focused(focused: dict[str, Any], unfocused: dict[str, str]) -> None:
    has_outline = focused["outlineStyle"] != "none" and focused["outlineWidth"] >= 2
    has_shadow = focused["shadow"] != "none"
    assert has_outline or has_shadow, f"{focused['name']} shows no focus indicator"
    assert (focused["outline"], focused["shadow"]) != (
        unfocused["outline"],
        unfocused["shadow"],
    ), f"{focused['name']} looks the same focused and not focused"
    assert focused["inViewport"], f"{focused['name']} is focused but not in view"


def test_login_with_the_keyboard_alone(page: Page, live: LiveDemo) -> None:
    page.goto(f"{live.issuer}/login")
    looks = page.evaluate(MARK_FOCUSABLE)

    order = []
    for _ in range(7):
        focused = _tab(page)
        assert focused["index"] is not None, f"focus left the page's controls: {focused}"
        _assert_visibly_focused(focused, looks[int(focused["index"])])
        order.append(focused["name"])
    assert order == [
        "a:#main",  # the skip link comes first
        "a:es",
        "a:pt",
        "a:en",
        "#username",
        "#password",
        "button:Ingresar",
    ]

    # The skip link takes keyboard users straight to the content.
    for _ in range(6):
        page.keyboard.press("Shift+Tab")
    assert page.evaluate(DESCRIBE_FOCUSED)["name"] == "a:#main"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert _tab(page)["name"] == "#username"

    page.keyboard.type(LEVEL_1_USERNAME)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"{live.issuer}/account")
    assert "Juan" in page.locator("main").inner_text()
