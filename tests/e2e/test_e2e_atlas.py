"""End to end: the Data atlas opened on a tiny digits run that recorded its training dynamics draws its
data map with the regions counted, and a region's training images; the app, browser and helpers are
tests/e2e/test_e2e.py's."""

import pytest

from test_e2e import browser, page  # noqa: F401  (fixtures)
from test_e2e import served, shot

from cnnkit.config import TrainConfig
from cnnkit.training import train

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_atlas_maps_a_runs_training_examples_and_shows_a_regions_images(page, tmp_path):
    uri = f"sqlite:///{tmp_path / 'atlas.db'}"
    result = train(TrainConfig(dataset="digits", epochs=2, train_limit=300, dynamics_sample=200), tracking_uri=uri,
                   run_name="mapped")
    assert result.status == "FINISHED", result.error
    with served(tmp_path, MLFLOW_TRACKING_URI=uri) as (url, _):
        page.goto(f"{url}/atlas")
        page.get_by_text("200 of the 300 training examples").wait_for(timeout=180_000)
        page.locator(".js-plotly-plot").first.wait_for()
        page.get_by_text("Data map · 200 examples").wait_for()
        shot(page, "atlas-1-map", settle_ms=1500)
        # two short epochs on 300 images leave every example hard to learn; the segmented control follows the map
        page.get_by_text("hard-to-learn", exact=True).last.click()
        page.get_by_text("examples, the least confident first").wait_for(timeout=120_000)
        page.locator(".js-plotly-plot").nth(1).wait_for()  # the region's images, under the map
        page.locator("[data-testid=stDataFrame]").wait_for()
        shot(page, "atlas-2-region", settle_ms=1500)
