"""Ablations: factors checked against the settings' declarations, the grid they expand into, the
seed-002 preset, an ablation fed through a JobManager (fake trainer) under its caps, then cancelled, and
the command line, under its new names and its old ones ("study")."""

import json
import threading
import time
from types import SimpleNamespace

import pytest

from cnnkit.tracking import run_schema
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs import JobManager
from cnnkit.experiments.ablations import (
    Ablation, AblationLaunch, ablation_of_form, base_config, parse_factor, preset_ablation,
)
from cnnkit.training import RunResult

TIMEOUT = 30
BASE = TrainConfig(dataset="digits", epochs=1, train_limit=100, seed=7)


def test_a_factor_takes_levels_as_text_in_the_settings_types():
    factor = parse_factor("batch_norm=true,false")
    assert [level.settings for level in factor.levels] == [{"batch_norm": True}, {"batch_norm": False}]
    assert [level.label for level in parse_factor("learning_rate=0.001, 0.01").levels] == ["0.001", "0.01"]


@pytest.mark.parametrize("levels, changes", [("0.001, 0.01", "epochs=2, train_limit=50"),
                                             ("0.001 0.01", "epochs=2 train_limit=50"),
                                             ("0.001,0.01", "epochs=2,train_limit=50")])
def test_a_forms_levels_and_base_changes_may_be_separated_by_commas_spaces_or_both(levels, changes):
    ablation = ablation_of_form("", base_config(BASE.to_dict(), changes), {"learning_rate": levels}, seeds=1)
    assert [level.settings for level in ablation.factors[0].levels] == [{"learning_rate": 0.001}, {"learning_rate": 0.01}]
    assert (ablation.base.epochs, ablation.base.train_limit, ablation.name) == (2, 50, "Learning rate")


@pytest.mark.parametrize("text, message", [
    ("flip=none,sideways", "Random flips: 'sideways' is not one of"),
    ("epochs=1,two", "Epochs: 'two' is not a valid whole number."),
    ("flip=none", "Random flips: a factor needs at least two levels"),
    ("flip=none,none", "Random flips: the levels repeat"),
    ("seed=1,2", "'seed' is not a setting an ablation can vary"),
    ("colour=red,blue", "'colour' is not a setting an ablation can vary"),
    ("flip", "is not setting=level,level"),
])
def test_a_bad_factor_is_named_by_its_on_screen_label(text, message):
    with pytest.raises(InputError, match=message):
        parse_factor(text)


def test_the_grid_has_every_cell_with_every_seed_each_run_tagged_with_its_ablation_cell_and_seed():
    ablation = Ablation("tiny", BASE, (parse_factor("flip=none,horizontal"), parse_factor("batch_norm=true,false")), seeds=2)
    runs = ablation.expand()
    assert ablation.size == len(runs) == 8
    assert [(run.cell["flip"], run.cell["batch_norm"], run.seed) for run in runs[:3]] == [
        ("none", "True", 7), ("none", "True", 8), ("none", "False", 7)]
    assert {(run.config.flip, run.config.batch_norm, run.config.seed) for run in runs} == {
        (flip, norm, seed) for flip in ("none", "horizontal") for norm in (True, False) for seed in (7, 8)}
    assert all(run.config.train_limit == 100 for run in runs)
    tags = runs[-1].tags
    assert tags[run_schema.ABLATION_ID_TAG] == ablation.ablation_id and tags[run_schema.ABLATION_NAME_TAG] == "tiny"
    assert json.loads(tags[run_schema.ABLATION_CELL_TAG]) == {"flip": "horizontal", "batch_norm": "False"}
    assert tags[run_schema.ABLATION_SEED_TAG] == "8" and tags[run_schema.ABLATION_SIZE_TAG] == "8"
    assert runs[-1].name == "tiny · Random flips horizontal, Batch normalisation False · seed 8"


def test_a_cell_whose_settings_clash_is_refused_before_anything_runs():
    with pytest.raises(InputError, match="Peak rate"):  # cyclic climbs to max_lr 0.006: a rate of 0.01 is above it
        Ablation("clash", BASE.replace(schedule="cyclic"), (parse_factor("learning_rate=0.001,0.01"),))
    with pytest.raises(InputError, match="Seeds: use between 1 and 100"):
        Ablation("no seeds", BASE, (parse_factor("flip=none,horizontal"),), seeds=0)


def test_seed_002s_three_models_become_a_two_by_two_preset_ablation_with_seeds():
    ablation = preset_ablation("seed002_ablation", epochs=1)
    runs = ablation.expand()
    assert ablation.size == 12 and ablation.base.dataset == "mnist" and ablation.base.arch == "mnist_cnn"
    by_cell = {(run.cell["LR annealing"], run.cell["augmentation"]): run.config for run in runs}
    assert by_cell["off", "off"].schedule == "constant" and by_cell["off", "off"].rotation == 0
    assert by_cell["on", "off"].schedule == "plateau" and by_cell["on", "off"].plateau_factor == 0.3
    assert (by_cell["off", "on"].schedule, by_cell["off", "on"].rotation, by_cell["off", "on"].zoom) == ("constant", 10, 0.05)
    assert all(config.epochs == 1 for config in by_cell.values())


class BlockingTrainer:
    """Stands in for training.train: records each call, returns FINISHED once released (KILLED when cancelled)."""

    def __init__(self):
        self.calls, self.lock, self.release = [], threading.Lock(), threading.Event()

    def __call__(self, cfg, *, tracking_uri, experiment, run_name, cancel, on_progress, on_run_created, tags=None):
        with self.lock:
            self.calls.append((run_name, cfg, tags))
        on_run_created(f"run-{len(self.calls)}")
        while not (self.release.is_set() or cancel.is_set()):
            cancel.wait(0.01)
        return RunResult(f"run-{len(self.calls)}", "KILLED" if cancel.is_set() else "FINISHED", {})


@pytest.fixture
def trainer():
    trainer = BlockingTrainer()
    yield trainer
    trainer.release.set()


def manager_for(trainer, **kwargs):
    return JobManager(max_concurrent=1, trainer=trainer, recover_stale_runs=False, **kwargs)


def test_an_ablation_runs_in_grid_order_within_the_visitors_cap_and_counts_its_runs(trainer):
    manager = manager_for(trainer, max_active_per_visitor=3)
    ablation = Ablation("tiny", BASE, (parse_factor("flip=none,horizontal"), parse_factor("batch_norm=true,false")), seeds=2)
    launch = AblationLaunch(ablation, manager, visitor="me", poll_s=0.05)
    try:
        assert launch.progress().total == 8 and launch.progress().finished == 0
        trainer.release.set()
        progress = launch.wait(TIMEOUT)
        assert (progress.finished, progress.failed, progress.active) == (8, 0, False)
        assert progress.describe() == "8 of 8 runs done"
        assert [name for name, _, _ in trainer.calls] == [run.name for run in ablation.expand()]
        assert all(tags[run_schema.ABLATION_ID_TAG] == ablation.ablation_id for _, _, tags in trainer.calls)
    finally:
        manager.shutdown(timeout=TIMEOUT)


class CapFullOfAnotherJob:
    """A manager whose visitor's cap is held by a job outside the ablation (its own jobs end at once)
    until `free` is set."""

    def __init__(self):
        self.free, self.submitted = threading.Event(), []
        self.other = SimpleNamespace(job_id="other", visitor="me", is_active=True)

    def submit(self, cfg, name, *, visitor, tags):
        if self.submitted and not self.free.is_set():
            raise InputError("You already have 4 jobs queued or running: wait for one to end.")
        self.submitted.append(name)
        return f"job-{len(self.submitted)}"

    def find(self, job_id):
        return SimpleNamespace(job_id=job_id, visitor="me", is_active=False, state="finished")

    def snapshots(self):
        return [self.other] if not self.free.is_set() else []

    def wait(self, job_id, timeout=None):
        self.free.wait(timeout)


def test_an_ablation_waits_while_the_visitors_other_jobs_hold_the_cap_then_goes_on():
    manager = CapFullOfAnotherJob()
    ablation = Ablation("tiny", BASE, (parse_factor("flip=none,horizontal"),), seeds=1)
    launch = AblationLaunch(ablation, manager, visitor="me", poll_s=0.05)
    time.sleep(0.3)  # the feeder has met the full cap several times by now
    assert launch.error is None and len(launch.job_ids) == 1
    manager.free.set()
    deadline = time.monotonic() + TIMEOUT
    while len(launch.job_ids) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert manager.submitted == [run.name for run in ablation.expand()] and launch.error is None


def test_a_refusal_that_no_job_explains_ends_the_ablation_with_its_reason():
    manager = CapFullOfAnotherJob()
    manager.other.is_active = False  # nothing holds the cap, yet the manager refuses
    launch = AblationLaunch(Ablation("tiny", BASE, (parse_factor("flip=none,horizontal"),), seeds=1), manager,
                         visitor="me", poll_s=0.05)
    deadline = time.monotonic() + TIMEOUT
    while launch.error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert launch.error == "You already have 4 jobs queued or running: wait for one to end."
    assert launch.progress().describe() == "2 of 2 runs done · 1 failed or cancelled"


def test_following_an_ablation_says_each_new_progress_line_and_the_last_one():
    manager = CapFullOfAnotherJob()
    manager.other.is_active = False  # refused at once: the ablation ends without a run
    launch = AblationLaunch(Ablation("tiny", BASE, (parse_factor("flip=none,horizontal"),), seeds=1), manager,
                            visitor="me", poll_s=0.05)
    said = []
    progress = launch.follow(said.append, every_s=0.05)
    assert not progress.active and said[-1] == progress.describe() == "2 of 2 runs done · 1 failed or cancelled"
    assert all(line != before for before, line in zip(said[:-2], said[1:-1]))  # a line again only at the end


def test_cancelling_an_ablation_stops_its_running_job_drops_the_queue_and_submits_no_more(trainer):
    manager = manager_for(trainer, max_active_per_visitor=2)
    ablation = Ablation("tiny", BASE, (parse_factor("flip=none,horizontal"),), seeds=3)
    launch = AblationLaunch(ablation, manager, visitor="me", poll_s=0.05)
    try:
        assert manager.wait(launch.job_ids[0], timeout=0.2).state == "running"
        launch.cancel()
        progress = launch.wait(TIMEOUT)
        assert (progress.finished, progress.failed, progress.total) == (0, 6, 6)
        assert {manager.snapshot(job_id).state for job_id in launch.job_ids} == {"cancelled"}
        assert len(launch.job_ids) <= 2 and len(trainer.calls) == 1
    finally:
        manager.shutdown(timeout=TIMEOUT)


def test_a_cancel_refused_to_another_visitor_changes_nothing(trainer):
    manager = manager_for(trainer, max_active_per_visitor=2)
    launch = AblationLaunch(Ablation("tiny", BASE, (parse_factor("flip=none,horizontal"),), seeds=3), manager,
                            visitor="me", poll_s=0.05)
    try:
        assert manager.wait(launch.job_ids[0], timeout=0.2).state == "running"
        assert launch.may_be_cancelled_by("me") and launch.may_be_cancelled_by(None)
        assert not launch.may_be_cancelled_by("someone else")
        with pytest.raises(InputError, match="^tiny was launched by another visitor"):
            launch.cancel("someone else")
        assert not launch.cancelled and launch.progress().active  # the ablation goes on, its queue fed
        launch.cancel("me")
        assert launch.cancelled and not launch.wait(TIMEOUT).active
    finally:
        manager.shutdown(timeout=TIMEOUT)


def test_the_command_line_names_a_bad_factor_or_metric_in_one_line(capsys):
    from cnnkit.cli import main

    assert main(["ablation", "--factor", "flip=none,sideways"]) == 2
    assert "error: Random flips (flip): 'sideways' is not one of" in capsys.readouterr().err
    assert main(["ablation", "--dataset", "digits"]) == 2
    assert "needs at least one --factor" in capsys.readouterr().err


def renamed_note(old: str, new: str) -> str:
    return f"note: `{old}` is now `{new}`; the old name works until the next release.\n"


def test_the_old_command_names_still_work_and_say_in_one_line_that_they_are_renamed(tmp_path, capsys):
    from cnnkit.cli import main

    assert main(["study", "--factor", "flip=none,sideways"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(renamed_note("study", "ablation")) and err.count("note:") == 1
    assert "error: Random flips (flip): 'sideways' is not one of" in err
    assert main(["study-report", "0123456789ab", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]) == 0
    out, err = capsys.readouterr()
    assert out == "No runs of this ablation in the store.\n"
    assert err.startswith(renamed_note("study-report", "ablation-report")) and err.count("note:") == 1


def test_the_old_preset_option_and_listing_still_work_and_say_so(capsys):
    from cnnkit.cli import main, new_spellings

    assert main(["study", "--study-preset=seed002_ablation", "--factor", "flip=none,horizontal"]) == 2
    assert main(["list", "studies", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [row["name"] for row in json.loads(out)] == ["seed002_ablation"]
    assert err.splitlines() == [renamed_note("study", "ablation").strip(),
                                renamed_note("--study-preset", "--ablation-preset").strip(),
                                "error: Use either --ablation-preset or --factor, not both.",
                                renamed_note("studies", "ablations").strip()]
    # only the words in their places: a value, or the option under another command, is left as it is
    assert new_spellings(["ablation", "--name", "study"]) == ["ablation", "--name", "study"]
    assert new_spellings(["train", "--study-preset", "studies"]) == ["train", "--study-preset", "studies"]


@pytest.mark.slow
def test_the_command_line_trains_an_ablation_and_reports_its_cells_and_effects(tmp_path, capsys):
    from cnnkit.cli import main
    from cnnkit.tracking import RunStore

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["ablation", "--dataset", "digits", "--epochs", "1", "--set", "train_limit=100", "--factor",
                 "flip=none,horizontal", "--seeds", "1", "--tracking-uri", uri]) == 0
    out = capsys.readouterr().out
    last = json.loads(out.strip().splitlines()[-1])
    ablation_id = last["ablation_id"]
    assert last["study_id"] == ablation_id  # the old key, for scripts of the old `study` command
    runs = RunStore(uri).ablation_runs(ablation_id)
    assert sorted(cell["flip"] for cell in runs["cell"]) == ["horizontal", "none"] and set(runs["status"]) == {"FINISHED"}
    assert "flip horizontal     none" in out and "too few seeds for an interval: n=1" in out and "None" not in out
    listed = RunStore(uri).ablations()
    assert listed[["ablation_id", "ablation", "size", "runs"]].values.tolist() == [[ablation_id, "flip", 2, 2]]
    assert main(["ablation-report", ablation_id, "--metric", "final_val_accuracy", "--tracking-uri", uri]) == 0
    assert "Main effects on final_val_accuracy" in capsys.readouterr().out
    assert main(["ablation-report", ablation_id, "--metric", "speed", "--tracking-uri", uri]) == 2
    assert "Metric: 'speed' is not one of" in capsys.readouterr().err
