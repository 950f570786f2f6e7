"""End to end: Compare, opened on two runs by a shared link, says whether one is really better. The
runs are logged with evaluations as `train` logs them (tests/pages/test_compare_verdict.py), without
training; the app, browser and helpers are tests/e2e/test_e2e.py's."""

import numpy as np
import pytest

from test_compare_verdict import evaluated_run
from test_e2e import browser, page  # noqa: F401  (fixtures)
from test_e2e import served, shot

from cnnkit import tracking

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_compare_opened_on_two_runs_says_which_is_better_and_how_sure(page, tmp_path):
    uri = f"sqlite:///{tmp_path / 'verdict.db'}"
    store = tracking.RunStore(uri)
    y_test = np.arange(1_000) % 10
    small = evaluated_run(store, "small", y_test, np.arange(30), "digits-test")
    big = evaluated_run(store, "big", y_test, np.arange(25, 30), "digits-test")
    other = evaluated_run(store, "other", np.arange(500) % 10, np.arange(20), "other-test")
    with served(tmp_path, MLFLOW_TRACKING_URI=uri) as (url, _):
        page.goto(f"{url}/compare?runs={small},{big}&tab=Results")
        page.get_by_text("big is better than small by 2.50 points (95 % interval").wait_for(timeout=180_000)
        page.get_by_text("would arise by chance less than 1 time in 10,000").wait_for()
        page.get_by_text("Is the difference real?").scroll_into_view_if_needed()
        shot(page, "verdict-1-two-runs", settle_ms=1500)
        page.goto(f"{url}/compare?runs={small},{other}&tab=Results")
        page.get_by_text("No paired test: small and other were tested on different images").wait_for(timeout=120_000)
        shot(page, "verdict-2-different-images", settle_ms=1500)
