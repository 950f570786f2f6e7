"""End to end, the experiments beyond one run: an Optuna search, an ablation, a fork with the
epoch sliders. A file of their own (they train many tiny runs), so the test workers share the
browser tests (scripts/run_tests.sh runs whole files per worker); the app, browser and helpers are
tests/e2e/test_e2e.py's."""

import re

import pytest

from test_e2e import app_url, browser, page  # noqa: F401  (fixtures)
from test_e2e import choose, go_to, open_app, playwright_api, served, shot, type_number, wait_for_ended

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_four_trial_optuna_search_then_its_best_trial_fills_the_form(app_url, page):
    open_app(page, f"{app_url}/?epochs=1&train_limit=100&width=0.25")  # tiny digits runs, set from the address
    settings = page.get_by_role("combobox", name="Settings to search")
    settings.evaluate("element => element.scrollIntoView({block: 'center'})")
    for label, its_range in (("Learning rate", "Learning rate: lowest"), ("Optimizer", "Optimizer: values to try")):
        settings.click()
        page.keyboard.type(label)  # the list is long: typing narrows it to the setting
        page.get_by_role("option", name=label, exact=True).click()
        page.keyboard.press("Escape")
        page.get_by_label(its_range, exact=True).wait_for()  # its rerun is done: what is typed next is not reset
    type_number(page, "Trials", 4)
    page.get_by_text(re.compile(r"^Launch trains 4 trials, 1 at once")).wait_for()
    type_number(page, "Trials at once", 2)
    page.get_by_text(re.compile(r"^Launch trains 4 trials, 2 at once, maximising validation accuracy over "
                                r"Learning rate .*; Optimizer")).wait_for()  # what Launch sends, as the page says
    page.get_by_role("button", name="Launch search").click()
    page.get_by_text(re.compile(r"search-.*: 4 of 4 trials")).wait_for(timeout=300_000)
    # Optuna's own figure; .first: while the polling fragment redraws, the old tabs can stand beside the new
    page.get_by_text("Optimization History Plot").first.wait_for()
    page.get_by_role("button", name="Load best trial into the form").scroll_into_view_if_needed()
    shot(page, "search-1-finished", settle_ms=1500)
    page.get_by_role("button", name="Load best trial into the form").click()
    page.wait_for_url(re.compile(r"learning_rate="))  # the form holds the best trial's rate, so the address does
    shot(page, "search-2-best-in-form", settle_ms=1000)


def test_a_tiny_digits_ablation_of_two_factors_and_two_seeds_runs_from_the_ablation_page(app_url, page):
    open_app(page, app_url)
    go_to(page, "Ablation", "Ablation")
    changes = page.get_by_label("Change in the base (key=value, separated by commas or spaces)")
    changes.fill("epochs=1, train_limit=100")
    changes.press("Enter")
    for factor in ("Random flips", "Batch normalisation"):
        page.get_by_role("combobox", name="Factors").click()
        page.keyboard.type(factor)  # the list is long: typing narrows it to the one option
        page.get_by_role("option", name=factor, exact=True).click()
        page.keyboard.press("Escape")
    page.get_by_text("8 runs: 4 cells × 2 seeds.").wait_for()
    page.get_by_role("button", name="Launch the ablation").click()
    page.get_by_text(re.compile(r"runs done")).first.wait_for()
    shot(page, "25-ablation-running", settle_ms=1000)
    page.get_by_text(re.compile(r"8 of 8 runs done")).wait_for(timeout=600_000)
    page.get_by_role("heading", name="Effects").wait_for()
    page.get_by_text("Test accuracy per epoch, mean ± std over seeds").or_(
        page.get_by_text("Validation accuracy per epoch, mean ± std over seeds")).first.wait_for()
    shot(page, "26-ablation-analysis", settle_ms=2000)


def test_fork_a_run_from_epoch_1_then_rewind_inspect_and_compare_with_the_epoch_slider(page, tmp_path):
    with served(tmp_path) as (url, _):
        open_app(page, url)
        page.get_by_text("8×8×1").first.wait_for()
        type_number(page, "Limit training images (0 = all)", 200)
        page.get_by_role("tab", name="4 · Optimiser").click()
        type_number(page, "Epochs", 2)
        type_number(page, "Snapshot every (epochs) (0 = off)", 1)
        page.wait_for_timeout(1500)
        shot(page, "30-train-snapshot-budget")
        page.get_by_text(re.compile(r"2 snapshots × \(")).wait_for()  # the disk budget for that choice
        page.get_by_role("button", name="Launch training").click()
        page.get_by_text("finished after").first.wait_for(timeout=180_000)

        go_to(page, "Runs", "Runs")
        grid = page.get_by_test_id("stDataFrame").first
        grid.locator("td[role=gridcell]").first.wait_for(state="attached")
        page.wait_for_timeout(1500)
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
        parent = re.search(r"[0-9a-f]{32}", page.get_by_text(re.compile(r"^run [0-9a-f]{32} ")).inner_text()).group()
        page.get_by_role("tab", name="Manage & relaunch").click()
        changes = page.get_by_role("textbox", name="Changed settings (key=value, separated by commas or spaces)")
        changes.fill("rotation=10")
        changes.press("Enter")
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Fork", exact=True).click()
        page.get_by_text("Forking in a job: follow it on the Train page.").wait_for()
        shot(page, "31-runs-forked", settle_ms=500)

        go_to(page, "Train", "Train")
        wait_for_ended(page, 2)  # the run and its fork

        go_to(page, "Inspect", "Inspect a run")
        choose(page, "Run", f"kaggle_mnist_cnn on digits · {parent[:6]}")
        slider = page.get_by_role("slider").first
        ticks = page.get_by_test_id("stSliderTickBar").first  # the parent's slider runs from epoch 1 (the fork's from 2)
        # its last snapshot is the finished run: one stop, "2 (final)"
        playwright_api.expect(ticks).to_have_text(re.compile(r"^\s*1\s*2 \(final\)\s*$"), timeout=60_000)
        slider.focus()
        slider.press("Home")  # from "2 (final)" back to epoch 1
        playwright_api.expect(slider).to_have_attribute("aria-valuetext", "1", timeout=60_000)
        page.get_by_text("Most confident mistakes").or_(page.get_by_text("No misclassified test images.")).first.wait_for()
        shot(page, "32-inspect-epoch-1", settle_ms=1500)
        assert page.get_by_test_id("stException").count() == 0

        go_to(page, "Compare", "Compare runs")
        page.get_by_text(re.compile("← parent ≤ 1")).first.wait_for()  # the fork's curve continues its parent's
        shot(page, "33-compare-fork-curves", settle_ms=1500)
        page.get_by_role("tab", name="Fixed & broken").click()
        page.get_by_text(re.compile(r"From epoch 1 to 2: \d+ fixed")).wait_for()
        shot(page, "34-compare-fixed-and-broken", settle_ms=1500)
        assert page.get_by_test_id("stException").count() == 0


def test_the_range_tests_suggestion_fills_the_form_and_the_address(app_url, page):
    """"Use this range" sits in the range test's fragment: its rates must reach the form's controls and
    the address bar, which a fragment's run does not redraw (they kept their old values)."""
    open_app(page, f"{app_url}/?schedule=one_cycle&train_limit=300")
    page.get_by_role("button", name="Find learning rate").click()
    use = page.get_by_role("button", name=re.compile(r"^Use this range"))
    use.wait_for(timeout=300_000)
    use.click()
    page.wait_for_function("() => location.search.includes('max_lr=')")
    page.get_by_role("tab", name="4 · Optimiser").click()
    rate = page.get_by_label("Learning rate", exact=True).input_value()
    assert f"learning_rate={rate}" in page.evaluate("location.search") and rate != "0.001"
    shot(page, "range-test-used", settle_ms=1000)
