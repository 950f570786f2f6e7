"""End to end: a tiny digits run → Inspect's Label issues, Training split → a 3-fold label audit started there, its
progress watched → its suspects → "Train again without these N examples" → the Train page with those ids under
Exclude examples. The app, browser and helpers are tests/e2e/test_e2e.py's; timeouts allow a loaded machine."""

import re

import pytest

from test_e2e import browser  # noqa: F401  (fixture)
from test_e2e import page_fixture, served, shot

from cnnkit.config import TrainConfig
from cnnkit.training import train

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


page = page_fixture(1400, 1000)


def test_a_label_audit_started_from_inspect_leaves_its_suspects_out_of_the_next_run(page, tmp_path):
    uri = f"sqlite:///{tmp_path / 'audit.db'}"
    run = train(TrainConfig(dataset="digits", epochs=1, train_limit=90), tracking_uri=uri, run_name="audited")
    assert run.status == "FINISHED", run.error
    with served(tmp_path, MLFLOW_TRACKING_URI=uri) as (url, _):
        page.goto(f"{url}/inspect?run={run.run_id}&tab=Label+issues")
        page.get_by_text("Training split (a label audit)").click(timeout=180_000)
        page.get_by_text("No label audit of this run's settings yet").wait_for(timeout=120_000)
        page.get_by_role("button", name="Start the label audit").click()
        page.get_by_text(re.compile(r"fold runs: \d of 3 runs done")).wait_for(timeout=120_000)
        assert page.get_by_role("button", name="Cancel the audit").count() == 1
        shot(page, "label-audit-1-progress", settle_ms=500)
        button = page.get_by_role("button", name=re.compile(r"Train again without these [\d,]+ examples"))
        button.wait_for(timeout=600_000)
        page.get_by_text(re.compile(r"suspected label errors? among 90 training examples")).wait_for()
        count = int(re.search(r"([\d,]+) examples", button.inner_text()).group(1).replace(",", ""))
        assert 0 < count < 90
        button.scroll_into_view_if_needed()
        shot(page, "label-audit-2-suspects", settle_ms=1500)
        button.click()
        page.get_by_role("heading", name="Train", exact=True, level=1).wait_for(timeout=120_000)
        page.get_by_text(f"{count:,} examples excluded from training").wait_for(timeout=60_000)
        page.get_by_text(f"Ready: {90 - count:,} training images").wait_for(timeout=60_000)
        shot(page, "label-audit-3-train", settle_ms=1000)
