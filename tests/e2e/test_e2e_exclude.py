"""End to end: a tiny digits run's data map → points selected with a box → "Train again without these N
examples" → the Train page's Data tab with those ids under Exclude examples → Launch → the follow-up run
finishes having recorded how many it left out. The app, browser and helpers are tests/e2e/test_e2e.py's."""

import re

import pytest

from test_e2e import browser  # noqa: F401  (fixture)
from test_e2e import page_fixture, served, shot

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.training import train

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


page = page_fixture(1400, 1000)


def test_points_picked_on_the_data_map_are_left_out_of_the_next_run(page, tmp_path):
    uri = f"sqlite:///{tmp_path / 'exclude.db'}"
    parent = train(TrainConfig(dataset="digits", epochs=2, train_limit=300, dynamics_sample=100), tracking_uri=uri,
                   run_name="mapped")
    assert parent.status == "FINISHED", parent.error
    with served(tmp_path, MLFLOW_TRACKING_URI=uri) as (url, _):
        page.goto(f"{url}/atlas")
        page.get_by_text("Data map · 100 examples").wait_for(timeout=180_000)
        plot = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first
        plot.wait_for()
        page.wait_for_timeout(1500)
        box = plot.bounding_box()
        page.mouse.move(box["x"] + 2, box["y"] + 2)  # a box over the whole map
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
        page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=8)
        page.mouse.up()
        button = page.get_by_role("button", name=re.compile(r"Train again without these [\d,]+ examples"))
        button.wait_for(timeout=60_000)
        count = int(re.search(r"([\d,]+) examples", button.inner_text()).group(1).replace(",", ""))
        assert 0 < count <= 100  # the map's sample only: 200 more training examples keep every class in training
        button.scroll_into_view_if_needed()  # the app scrolls inside its own frame: a full-page shot shows the view
        shot(page, "exclude-1-atlas-button", settle_ms=1500)
        button.click()
        page.get_by_role("heading", name="Train", exact=True, level=1).wait_for(timeout=120_000)
        page.get_by_text(f"{count:,} examples excluded from training").wait_for(timeout=60_000)
        page.get_by_text(re.compile(r"Ready: [\d,]+ training images")).wait_for(timeout=60_000)
        assert page.get_by_text(f"Ready: {300 - count:,} training images").count() == 1
        page.get_by_text(f"{count:,} examples excluded from training").scroll_into_view_if_needed()
        shot(page, "exclude-2-train-data-tab", settle_ms=1500)
        page.get_by_role("button", name="Launch training").click()
        page.get_by_text("finished after").first.wait_for(timeout=240_000)
    runs = tracking.RunStore(uri).runs_frame()
    follow_up = runs[runs["run_id"] != parent.run_id]
    assert len(follow_up) == 1
    recorded = tracking.RunStore(uri).run(follow_up["run_id"].iloc[0])
    assert recorded.status == "FINISHED"
    assert recorded.params["exclude_examples"].startswith(f"{count:,} example")
