"""End to end: a CSV dataset's training examples relabelled through the Train page's Data tab (the lines come in
by the address bar, as a shared link brings them) → Launch → the run finishes having trained on a corrected copy,
which it names, while the original CSV stays as it was. The app, browser and helpers are tests/e2e/test_e2e.py's."""

import re
import urllib.parse

import pytest

from test_e2e import browser  # noqa: F401  (fixture)
from test_e2e import page_fixture, served, shot

from cnnkit import tracking
from cnnkit.config import TrainConfig, load_data
from cnnkit.datasets import read_digit_csv
from cnnkit.tracking import run_schema
from test_pages import three_class_csv

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


page = page_fixture(1400, 1000)


def test_examples_relabelled_on_the_train_page_train_from_a_corrected_copy(page, tmp_path):
    original = tmp_path / "data" / "three.csv"
    original.parent.mkdir()
    three_class_csv(original)
    before = original.read_bytes(), original.stat().st_mtime_ns
    cfg = TrainConfig(dataset="csv", dataset_path=str(original), epochs=1)
    ids = load_data(cfg).ids_train[:3].tolist()
    lines = "\n".join(f"{example_id},8" for example_id in ids)
    uri = f"sqlite:///{tmp_path / 'relabel.db'}"
    query = urllib.parse.urlencode({"dataset": "csv", "dataset_path": str(original), "epochs": "1",
                                    "relabel_examples": lines})
    with served(tmp_path, MLFLOW_TRACKING_URI=uri, CNNKIT_DATA_ROOTS=str(original.parent)) as (url, _):
        page.goto(f"{url}/?{query}")
        page.get_by_text("3 training examples relabelled").wait_for(timeout=180_000)
        page.get_by_text(re.compile(r"Ready: [\d,]+ training images")).wait_for(timeout=120_000)
        page.get_by_text("3 training examples relabelled").scroll_into_view_if_needed()
        shot(page, "relabel-1-train-data-tab", settle_ms=1500)
        page.get_by_role("button", name="Launch training").click()
        page.get_by_text("finished after").first.wait_for(timeout=240_000)
    runs = tracking.RunStore(uri).runs_frame()
    assert len(runs) == 1
    recorded = tracking.RunStore(uri).run(runs["run_id"].iloc[0])
    assert recorded.status == "FINISHED" and recorded.params["relabel_examples"].startswith("3 examples, sha256 ")
    _, labels = read_digit_csv(recorded.tags[run_schema.RELABELLED_COPY_TAG])
    assert [labels[int(example_id)] for example_id in ids] == [8, 8, 8]
    assert (original.read_bytes(), original.stat().st_mtime_ns) == before
