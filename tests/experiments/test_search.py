"""The search: ranges checked against the settings' declarations, Optuna trials as job-manager runs
(tagged, in parallel up to the cap, pruned, cancelled), Optuna's figures, and one real pruned run."""

import threading

import optuna
import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.experiments import search
from cnnkit.tracking import run_schema
from cnnkit.training import checkpoint
from cnnkit.config import TrainConfig
from cnnkit.errors import InputError
from cnnkit.jobs import JobManager
from cnnkit.experiments.search import SearchSpec, make_range, parse_range
from cnnkit.training import Progress, RunResult

TIMEOUT = 120  # seconds; only a broken search waits this long
BASE = TrainConfig(dataset="digits", epochs=3, train_limit=100, batch_size=32, width=0.25)
RATE = parse_range("learning_rate=1e-4:1e-1:log")


# ---- ranges and specs ------------------------------------------------------------------

def test_ranges_take_the_type_of_their_setting():
    assert RATE == search.SearchRange("learning_rate", 1e-4, 0.1, log=True)
    assert isinstance(RATE.distribution(), optuna.distributions.FloatDistribution) and RATE.distribution().log
    sizes = parse_range("batch_size=16:64")
    assert (sizes.low, sizes.high, sizes.log) == (16, 64, False)
    assert isinstance(sizes.distribution(), optuna.distributions.IntDistribution)
    assert parse_range("optimizer=adam, sgd").choices == ("adam", "sgd")
    assert parse_range("batch_norm=true,false").choices == (True, False)
    assert make_range("test_time_flip", choices=["true", "false"]).choices == (True, False)


@pytest.mark.parametrize("text, message", [
    ("learning_rate=0:1:log", "Learning rate: must be above 0"),  # the declaration's bound, by its label
    ("learning_rate=0.1:0.01", "Learning rate: the lowest value (0.1) must be below the highest (0.01)"),
    ("dropout_scale=0:1:log", "Dropout scale: a log range must start above 0"),
    ("batch_size=16:64.5", "Batch size: '64.5' is not a valid whole number"),
    ("optimizer=adam,nadam", "Optimizer:"),
    ("optimizer=0.1:1", "Optimizer: takes one of its choices"),
    ("dataset=digits,mnist", "Dataset: a search can't vary it"),
    ("colour=1:2", "there is no setting 'colour'"),
    ("learning_rate", "is not a range"),
    ("learning_rate=1:2:3", "is not a range"),
])
def test_a_bad_range_is_refused_with_the_setting_label(text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_range(text)


@pytest.mark.parametrize("changes, message", [
    (dict(ranges=()), "Settings to search: pick at least one"),
    (dict(ranges=(RATE, RATE)), "one range only"),
    (dict(trials=0), "Trials: must be a whole number from 1"),
    (dict(parallel=3), "Trials at once: must be from 1 to 2"),
    (dict(base=BASE.replace(val_fraction=0.0)), "Validation share: a search prunes"),
    (dict(base=BASE.replace(schedule="cyclic", max_lr=0.005)), "Peak rate:"),  # the range's top beats the peak
])
def test_a_spec_is_checked_before_anything_starts(changes, message):
    spec = SearchSpec(**{**dict(base=BASE, ranges=(RATE,), trials=4, parallel=2), **changes})
    with pytest.raises(InputError, match=message):
        spec.check(max_parallel=2)


def test_a_spec_says_in_one_line_what_a_launch_trains():
    spec = SearchSpec(BASE, (parse_range("learning_rate=0.0001:0.01:log"), parse_range("optimizer=adam,sgd")),
                      trials=4, parallel=2)
    assert spec.describe() == ("4 trials, 2 at once, maximising validation accuracy over Learning rate 0.0001–0.01 "
                               "(log); Optimizer ∈ {adam, sgd}")


@pytest.mark.parametrize("text, value, rounded", [
    ("learning_rate=1e-4:1e-1:log", 0.0007501954443620128, 0.00075),  # 3 significant digits on a log scale
    ("dropout_scale=0:2", 1.23456789, 1.23),  # of the width (2) on a linear one
    ("learning_rate=0.001:0.05", 0.0123456, 0.0123),  # width 0.049: to 0.0001
    ("learning_rate=0.0001:1", 0.00031, 0.0001),  # 0.000 is outside the range: its low end
    ("batch_size=16:64", 37, 37),
    ("optimizer=adam,sgd", "sgd", "sgd"),
])
def test_a_trials_value_is_rounded_to_the_digits_its_range_tells_apart(text, value, rounded):
    assert parse_range(text).rounded(value) == rounded


def test_a_trials_config_holds_its_rounded_values():
    spec = SearchSpec(BASE, (RATE, parse_range("optimizer=adam,sgd")))
    assert spec.config({"learning_rate": 0.0007501954443620128, "optimizer": "sgd"}) == BASE.replace(
        learning_rate=0.00075, optimizer="sgd")


def test_a_spec_survives_json():
    spec = SearchSpec(BASE, (RATE, parse_range("optimizer=adam,sgd")), trials=5, parallel=2, seed=3)
    assert SearchSpec.from_json(spec.to_json()) == spec


# ---- trials as jobs, on a fake trainer -------------------------------------------------

class EpochTrainer:
    """Stands in for training.train: reports one epoch at a time, validation accuracy growing with
    the learning rate; waits for `gate` (when set) before each epoch after the first, so tests can
    look at running trials; ends KILLED with the cancel's reason when cancelled. The trials numbered in
    `lagging` reach a tenth of the accuracy."""

    def __init__(self):
        self.gate: threading.Event | None = None
        self.lagging: set[int] = set()
        self.calls, self.lock = [], threading.Lock()
        self.running, self.most_running = 0, 0

    def __call__(self, cfg, *, tracking_uri, experiment, run_name, cancel, on_progress, on_run_created, tags=None):
        run_id = f"run-{run_name.split()[-1]}"
        with self.lock:
            self.calls.append((run_name, tags, cfg))
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            on_run_created(run_id)
            accuracy = min(0.99, cfg.learning_rate * 10) / (10 if int(run_name.split()[-1]) in self.lagging else 1)
            for epoch in range(1, cfg.epochs + 1):
                if epoch > 1 and self.gate is not None:
                    assert self.gate.wait(TIMEOUT)
                if cancel.is_set():
                    return RunResult(run_id, "KILLED", {}, cancel.reason)
                on_progress(Progress("training", epoch, cfg.epochs, event="epoch",
                                     metrics={"loss": 1.0, "val_accuracy": accuracy * epoch / cfg.epochs}))
            if cancel.is_set():
                return RunResult(run_id, "KILLED", {}, cancel.reason)
            return RunResult(run_id, "FINISHED", {"final_val_accuracy": accuracy, "test_accuracy": accuracy})
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def fake():
    return EpochTrainer()


@pytest.fixture
def searches(fake, tmp_path):
    manager = JobManager(max_concurrent=2, trainer=fake, recover_stale_runs=False)
    yield search.Searches(manager, f"sqlite:///{tmp_path / 'optuna.db'}")
    if fake.gate is not None:
        fake.gate.set()
    manager.shutdown(timeout=TIMEOUT)


class NeverPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return False


def test_each_trial_is_a_tagged_run_and_the_best_one_is_found(searches, fake):
    ended = []
    spec = SearchSpec(BASE, (RATE, parse_range("optimizer=adam,sgd")), trials=4, parallel=2)
    name = searches.start(spec, pruner=NeverPrune(), on_trial_end=ended.append)
    progress = searches.wait(name, TIMEOUT)
    assert progress.describe() == "4 of 4 trials" and not progress.is_active
    assert sorted(trial.number for trial in ended) == [0, 1, 2, 3]
    assert fake.most_running == 2  # the spec's parallel trials at once
    assert sorted(tags[run_schema.SEARCH_TRIAL_TAG] for _, tags, _ in fake.calls) == ["0", "1", "2", "3"]
    assert {tags[run_schema.SEARCH_TAG] for _, tags, _ in fake.calls} == {name}
    trials = searches.trials(name)
    assert [trial.state for trial in trials] == ["COMPLETE"] * 4
    assert [trial.run_id for trial in trials] == ["run-0", "run-1", "run-2", "run-3"]
    best = max(trials, key=lambda trial: trial.value)
    assert progress.best_trial == best.number and progress.best_value == best.value
    assert searches.best_config(name) == BASE.replace(learning_rate=float(f"{best.params['learning_rate']:.3g}"),
                                                      optimizer=best.params["optimizer"])
    assert name in searches.names()
    # A new process (a restarted app) reads the same search from the storage.
    reread = search.Searches(searches.jobs, searches.storage.url)
    assert reread.progress(name) == progress and not reread.is_live(name)


def test_the_pruner_stops_a_trial_after_an_epoch(searches, fake):
    spec = SearchSpec(BASE, (RATE,), trials=2, parallel=1)
    pruner = optuna.pruners.ThresholdPruner(lower=2.0)  # every accuracy is below it: each trial is pruned
    name = searches.start(spec, pruner=pruner)
    progress = searches.wait(name, TIMEOUT)
    assert progress.describe() == "2 of 2 trials, 2 pruned" and progress.best_trial is None
    assert [trial.note for trial in searches.trials(name)] == [search.pruned_note(1)] * 2
    assert [trial.state for trial in searches.trials(name)] == ["PRUNED"] * 2
    with pytest.raises(InputError, match="No trial of .* has finished yet"):
        searches.best_config(name)


def test_the_default_pruner_may_prune_a_lagging_trial_at_its_first_epoch_once_two_trials_finished(searches, fake):
    """Pins what `Searches.start` and the README say: its docstring said "from epoch 2 on"."""
    fake.lagging = {2, 3}
    spec = SearchSpec(BASE, (parse_range("learning_rate=0.05,0.06"),), trials=4, parallel=1)
    name = searches.start(spec)  # the default pruner
    assert searches.wait(name, TIMEOUT).describe() == "4 of 4 trials, 2 pruned"
    trials = searches.trials(name)
    assert [trial.state for trial in trials] == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    assert [trial.note for trial in trials[2:]] == [search.pruned_note(1)] * 2


def test_cancelling_a_search_stops_its_running_and_queued_trials(searches, fake):
    fake.gate = threading.Event()
    other = searches.jobs.submit(BASE, "other 9")  # holds one of the two slots until the gate opens
    name = searches.start(SearchSpec(BASE, (RATE,), trials=4, parallel=2), pruner=NeverPrune())
    assert [job.state for job in searches.jobs.snapshots()] == ["queued", "running", "running"]
    searches.cancel(name)
    fake.gate.set()
    progress = searches.wait(name, TIMEOUT)
    assert progress.stopped == "cancelled" and not progress.is_active
    assert progress.describe() == "2 of 4 trials, 2 failed · cancelled"
    assert [trial.note for trial in searches.trials(name)] == [search.CANCEL_NOTE] * 2
    assert searches.jobs.wait(other, TIMEOUT).state == "finished"  # jobs outside the search go on
    assert len(fake.calls) == 2  # the queued trial never started


def test_a_search_whose_process_ended_is_closed_by_the_next_one(searches, fake):
    import subprocess
    import sys

    fake.gate = threading.Event()
    name = searches.start(SearchSpec(BASE, (RATE,), trials=4), pruner=NeverPrune())
    assert searches.progress(name).running == 1
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = searches.study(name).user_attrs["owner"]
    searches.study(name).set_user_attr("owner", {**owner, "pid": int(ended.stdout)})  # as if a dead process ran it
    restarted = search.Searches(searches.jobs, searches.storage.url)
    assert restarted.interrupted == [name]
    progress = restarted.progress(name)
    assert progress.describe() == "1 of 4 trials, 1 failed · interrupted: the process running it ended"
    assert not progress.is_active
    assert search.Searches(searches.jobs, searches.storage.url).interrupted == []  # closed once


def test_a_trial_whose_settings_clash_fails_and_the_search_goes_on(searches, fake):
    base = BASE.replace(schedule="cyclic", learning_rate=0.001, max_lr=0.06)
    ranges = (parse_range("learning_rate=0.001:0.05"), parse_range("max_lr=0.0011:0.05"))  # each end fits the base
    name = searches.start(SearchSpec(base, ranges, trials=4), pruner=NeverPrune())
    assert searches.wait(name, TIMEOUT).ended == 4
    failed = [trial for trial in searches.trials(name) if trial.state == "FAIL"]
    assert failed and all(trial.note.startswith("Peak rate: the cyclic schedule climbs") for trial in failed)
    assert all(ranges[1].rounded(params["max_lr"]) <= ranges[0].rounded(params["learning_rate"])
               for params in (trial.params for trial in failed))  # as rounded for the trial's config
    assert len(fake.calls) == 4 - len(failed)


# ---- a real run ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_real_pruned_trial_ends_killed_with_its_epochs_kept(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    manager = JobManager(tracking_uri=store, max_concurrent=1, recover_stale_runs=False)
    searches = search.Searches(manager)
    spec = SearchSpec(BASE.replace(epochs=2), (parse_range("learning_rate=1e-3:1e-2:log"),), trials=1)
    name = searches.start(spec, pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    progress = searches.wait(name, TIMEOUT)
    manager.shutdown()
    assert progress.describe() == "1 of 1 trials, 1 pruned"
    (trial,) = searches.trials(name)
    assert trial.state == "PRUNED" and trial.note == search.pruned_note(1)
    assert (tmp_path / search.STORAGE_FILE).exists()  # Optuna's storage beside the MLflow store
    client = make_client(store)
    run = client.get_run(trial.run_id)
    assert run.info.status == "KILLED" and run.data.tags[run_schema.ERROR_TAG] == search.pruned_note(1)
    assert run.data.tags[run_schema.SEARCH_TAG] == name and run.data.tags[run_schema.SEARCH_TRIAL_TAG] == "0"
    history = client.get_metric_history(trial.run_id, run_schema.VAL_ACCURACY)
    assert sorted(metric.step for metric in history) == [1]  # the epoch before the pruning are kept
    assert not checkpoint.exists(store, trial.run_id)  # a pruned trial is never resumed: no checkpoint left on disk


# ---- the command line ----------------------------------------------------------------

def test_a_bad_range_on_the_command_line_is_one_line(capsys):
    from cnnkit.cli import main

    assert main(["search", "--range", "learning_rate=0:1:log", "--dataset", "digits"]) == 2
    assert capsys.readouterr().err.strip() == "error: Learning rate (learning_rate): must be above 0 and at most 10, got 0."


@pytest.mark.slow
def test_the_command_line_prints_each_trial_and_the_best(tmp_path, capsys):
    import json

    from cnnkit.cli import main

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    status = main(["search", "--range", "learning_rate=1e-3:1e-2:log", "--range", "optimizer=adam,rmsprop",
                   "--trials", "2", "--dataset", "digits", "--epochs", "1", "--set", "train_limit=100",
                   "--set", "width=0.25", "--tracking-uri", store])
    lines = capsys.readouterr().out.strip().splitlines()
    assert status == 0
    assert [line.split()[:3] for line in lines[:2]] == [["trial", "0", "COMPLETE"], ["trial", "1", "COMPLETE"]]
    result = json.loads(lines[-1])
    assert result["complete"] == 2 and set(result["best_params"]) == {"learning_rate", "optimizer"}
    runs = tracking.RunStore(store).runs_frame()
    assert sorted(runs["status"]) == ["FINISHED", "FINISHED"] and result["best_run_id"] in set(runs["run_id"])
