"""The corruption sweep on the pages, through Streamlit's AppTest: Runs' open run shows its heat map and
numbers, Compare the runs' maps side by side, the Runs table their mean corruption accuracy; and a
sweep started from the open run (slow: a digits run is trained)."""

import os

import pandas as pd
import pytest

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.models import corruptions
from cnnkit.tracking import run_schema
from cheap_runs import finished_runs
from test_pages import chart_titles, on_tab


def sweep(run_store, run_id: str, mean: float) -> None:
    """A sweep logged on the run as `sweep_run` logs it, every cell at `mean`."""
    table = pd.DataFrame([(name, severity, 0.0, "MNIST-C", mean) for name in corruptions.CORRUPTIONS
                          for severity in corruptions.SEVERITIES],
                         columns=["corruption", "severity", "parameter", "benchmark", "accuracy"])
    run_store.log_corruption_sweep(run_id, {run_schema.CORRUPTION_CLEAN_ACCURACY: 0.9,
                                            run_schema.CORRUPTION_MEAN_ACCURACY: mean,
                                            run_schema.CORRUPTION_DROP: 0.9 - mean,
                                            run_schema.CORRUPTION_IMAGES: 2000}, table)


@pytest.fixture()
def swept(app):
    """Runs "swept" (mCA 0.625) and "unswept", newest first."""
    uri = os.environ["MLFLOW_TRACKING_URI"]
    unswept, swept = finished_runs(uri, ["unswept", "swept"])
    sweep(tracking.RunStore(uri), swept, 0.625)
    return swept, unswept


def test_the_open_run_shows_its_sweep_and_the_table_its_mean_corruption_accuracy(app, swept):
    swept_run, unswept_run = swept
    at = app.switch_page("app_pages/runs.py").run()
    table = at.dataframe[0].value
    assert table[run_schema.CORRUPTION_MEAN_ACCURACY].tolist()[0] == 0.625  # newest first; a column to sort by
    at.session_state["runs.table"] = {"selection": {"rows": [0]}}
    at.run()
    assert not at.exception
    assert any(title.startswith("Accuracy under corruptions") and "mean corruption accuracy 62.5%" in title
               for title in chart_titles(at))
    assert "clean 90.0%, mean corruption accuracy 62.5%, a drop of 27.5 points" in " ".join(c.value for c in at.caption)
    assert at.button(key="corruptions.start-" + swept_run + "-0")  # a finished run can be swept again


def test_compare_draws_the_swept_runs_maps_and_names_the_others(app, swept):
    swept_run, unswept_run = swept
    app.session_state["compare_runs"] = [swept_run, unswept_run]
    at = on_tab(app.switch_page("app_pages/compare.py"), "Results")
    assert [title for title in chart_titles(at) if title.startswith("Accuracy under corruptions · swept")]
    assert "No corruption sweep of unswept" in " ".join(c.value for c in at.caption)


@pytest.mark.slow
def test_a_sweep_started_from_the_open_run_runs_as_a_job_and_its_heat_map_appears(app):
    from app_pages.common import job_manager
    from cnnkit.training import train

    run_id = train(TrainConfig(dataset="digits", epochs=1, train_limit=100), run_name="tiny").run_id
    at = app.switch_page("app_pages/runs.py").run()
    at.session_state["runs.table"] = {"selection": {"rows": [0]}}
    at.run()
    assert "No corruption sweep of this run yet." in [c.value for c in at.caption]
    at.number_input(key=f"corruptions.images-{run_id}").set_value(40)
    at.button(key=f"corruptions.start-{run_id}-0").click().run()
    assert not at.exception
    [job] = [job for job in job_manager().snapshots() if job.kind == "corruptions"]
    assert job_manager().wait(job.job_id, 300).state == "finished"
    at.run()
    assert any(title.startswith("Accuracy under corruptions") for title in chart_titles(at))
    assert "On 40 test images" in " ".join(c.value for c in at.caption)


def test_a_sweep_that_fails_says_why_in_one_line_under_the_run(app, swept):
    from app_pages.common import job_manager

    swept_run, unswept_run = swept
    at = app.switch_page("app_pages/runs.py").run()
    at.session_state["runs.table"] = {"selection": {"rows": [1]}}  # "unswept": made without training, no model
    at.run()
    at.button(key=f"corruptions.start-{unswept_run}-0").click().run()
    [job] = [job for job in job_manager().snapshots() if job.kind == "corruptions"]
    assert job_manager().wait(job.job_id, 60).state == "failed"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"The corruption sweep failed: Run {unswept_run} has no saved model."]
