"""`python -m cnnkit corruptions RUN_ID [--images N]`: the sweep of a finished run, its metrics as the
last JSON line; a person's mistakes as one line and status 2."""

import json

import pytest

from cnnkit.cli import main
from cnnkit.config import TrainConfig
from cnnkit.tracking import run_schema
from cheap_runs import finished_run


def test_a_bad_image_count_or_a_run_without_a_model_is_one_line_and_status_2(run_store, capsys):
    run_id = finished_run(run_store)  # never trained: no model, no test split
    assert main(["corruptions", run_id, "--images", "0", "--tracking-uri", run_store.tracking_uri]) == 2
    assert "Images" in capsys.readouterr().err
    assert main(["corruptions", run_id, "--tracking-uri", run_store.tracking_uri]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == f"error: Run {run_id} has no saved model." and "Traceback" not in err


@pytest.mark.slow
def test_the_command_sweeps_a_run_and_prints_its_metrics_last(store, capsys):
    from cnnkit.training import train

    run_id = train(TrainConfig(dataset="digits", epochs=1, train_limit=100), tracking_uri=store).run_id
    assert main(["corruptions", run_id, "--images", "30", "--tracking-uri", store]) == 0
    out, err = capsys.readouterr()
    line = json.loads(out.strip().splitlines()[-1])
    assert (line["run_id"], line["status"], line[run_schema.CORRUPTION_IMAGES]) == (run_id, "FINISHED", 30)
    assert 0 <= line[run_schema.CORRUPTION_MEAN_ACCURACY] <= 1 and "[corruption sweep" in err
