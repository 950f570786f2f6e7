"""Narrow windows and the dark theme, in Debian's headless Chromium: from 800 px wide every page
works (the sidebar starts closed, nothing is cut to "La…"), Classify works on a 390 px phone, and the
Train page's sticky launch bar takes the dark theme's background."""

import pytest

from test_e2e import app_url, browser  # noqa: F401  (fixtures)
from test_e2e import open_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Elements of the page (not the closed sidebar) whose text is cut off: content wider than its box.
CUT_OFF_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] :is(button p, [data-testid="stMetricValue"] div)')]
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def narrow_page(browser, width: int, color_scheme: str = "light"):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=color_scheme)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def test_at_800_px_the_sidebar_starts_closed_and_no_button_or_metric_is_cut_off(app_url, browser):  # noqa: F811
    page = narrow_page(browser, 800)
    open_app(page, app_url)
    page.get_by_role("button", name="Launch training").wait_for()
    page.get_by_test_id("stMetricValue").first.wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]').getBoundingClientRect().width < 1",
                           timeout=15_000)  # closed (it stayed 300 px wide)
    assert page.evaluate(CUT_OFF_JS) == []
    assert page.evaluate(OVERFLOW_JS) == 0
    page.context.close()


def test_classify_on_a_390_px_phone_has_no_sideways_scrolling(app_url, browser):  # noqa: F811
    page = narrow_page(browser, 390)
    page.goto(f"{app_url}/classify")
    page.get_by_role("heading", name="Classify images", level=1).wait_for(timeout=180_000)
    page.wait_for_timeout(1000)
    assert page.evaluate(OVERFLOW_JS) == 0
    page.context.close()


def test_in_the_dark_theme_the_launch_bar_is_dark_too(app_url, browser):  # noqa: F811
    page = narrow_page(browser, 1400, color_scheme="dark")  # the System theme follows the browser
    open_app(page, app_url)
    bar = page.locator('div[data-testid="stLayoutWrapper"]:has(> div.st-key-launch_bar)')
    # The bar's style is drawn by the same script run, but can reach the page a moment after the bar
    # (on a loaded machine the bar was read while still transparent): wait for any background first.
    page.wait_for_function("e => getComputedStyle(e).backgroundColor !== 'rgba(0, 0, 0, 0)'", arg=bar.element_handle())
    colour = bar.evaluate("e => getComputedStyle(e).backgroundColor")
    red, green, blue = (int(v) for v in colour.removeprefix("rgb(").removesuffix(")").split(",")[:3])
    assert max(red, green, blue) < 60  # it was white
    page.context.close()
