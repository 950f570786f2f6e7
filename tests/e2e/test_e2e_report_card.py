"""End to end: a run opened on the Runs page shows its report card first, with its sentences, its
reliability diagram and its corruption heat map. The run is logged as training and a sweep log one
(tests/experiments/test_report_card.py), without training; the app, browser and helpers are
tests/e2e/test_e2e.py's."""

import pytest

from cheap_runs import evaluated_digits_run
from test_e2e import browser, page  # noqa: F401  (fixtures)
from test_e2e import served, shot
from test_report_card import log_calibration_and_sweep

from cnnkit import tracking

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_an_opened_run_shows_its_report_card_with_its_reliability_diagram_and_heat_map(page, tmp_path):
    uri = f"sqlite:///{tmp_path / 'card.db'}"
    store = tracking.RunStore(uri)
    log_calibration_and_sweep(store, evaluated_digits_run(store, "swept", wrong=range(9)))
    with served(tmp_path, MLFLOW_TRACKING_URI=uri) as (url, _):
        page.goto(f"{url}/runs")
        grid = page.get_by_test_id("stDataFrame").first
        grid.locator("td[role=gridcell]").first.wait_for(state="attached", timeout=180_000)
        page.wait_for_timeout(1500)
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box, under the header
        page.get_by_role("tab", name="Report card", selected=True).wait_for()  # the first tab, open
        page.get_by_text("Over-confident: ECE").wait_for()
        page.get_by_text("worst: translate (20.0%), rotate (40.0%), shear (50.0%)").wait_for()
        page.get_by_text("Reliability diagram (test split)").first.wait_for()  # the charts' titles, drawn in SVG
        page.get_by_text("Accuracy under corruptions").first.wait_for()
        shot(page, "report-card-1-open-run", settle_ms=1500)
