"""Hyperparameter search: an Optuna study over ranges of settings, each trial a tracked run.

A search is a base `TrainConfig`, the ranges of the settings to vary (`SearchRange`: a float range,
linear or log, a whole-number range, or a list of choices), a number of trials, the metric to
maximise and how many trials train at once. Optuna proposes each trial's settings (TPE by default,
seeded), the `JobManager` trains it as an ordinary run tagged with the search and the trial number,
and the epoch's validation accuracy goes back to Optuna after every epoch, whose pruner (median by
default) may stop the trial: its run then ends KILLED with the note "Pruned by the search at epoch k",
its epochs kept. Trials run in parallel up to the manager's cap; the next one is asked for as one ends.

The studies live in Optuna's own SQLite storage, `optuna.db` beside the MLflow store
(`tracking.store_folder`), so a search's trials, figures and best settings survive a restart and are
shared by the app and the CLI; its runs are in MLflow like any other. Rebuilding an in-memory study
from the MLflow runs after a restart was the alternative; it would have to replay every trial's
distributions, per-epoch values and states (pruned, failed) into Optuna, which its RDB storage keeps as
they are, read directly by its samplers, pruners and figures.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import optuna

from cnnkit import tracking
from cnnkit.tracking import run_schema, worker_process
from cnnkit.training import Progress, checkpoint
from cnnkit.config import SETTINGS, TrainConfig, label, settings_from_text, significant
from cnnkit.errors import InputError
from cnnkit.jobs import JobManager, JobSnapshot

optuna.logging.set_verbosity(optuna.logging.WARNING)  # no INFO line per trial on the app's console

STORAGE_FILE = "optuna.db"
# The metrics a search may maximise: the name a person picks -> the run result's key it is read from.
METRICS = {run_schema.VAL_ACCURACY: run_schema.FINAL_VAL_ACCURACY, run_schema.TEST_ACCURACY: run_schema.TEST_ACCURACY}
METRIC_LABELS = {run_schema.VAL_ACCURACY: "Validation accuracy", run_schema.TEST_ACCURACY: "Test accuracy"}
PRUNING_METRIC = run_schema.VAL_ACCURACY  # reported to the pruner after every epoch
# Settings a search may not vary: the data it is judged on (the splits and the dataset) and the
# machine's devices.
NOT_SEARCHABLE = ("dataset", "dataset_path", "val_fraction", "test_fraction", "devices")
MAX_TRIALS = 1000
# Labels of the search's own inputs, for messages (the Train page's Search panel shows them).
TRIALS_LABEL, PARALLEL_LABEL, RANGES_LABEL, METRIC_LABEL = ("Trials", "Trials at once", "Settings to search",
                                                           "Metric to maximise")
CANCEL_NOTE = "Cancelled with its search."


def pruned_note(epoch: int) -> str:
    return f"Pruned by the search at epoch {epoch}."


def searchable_settings() -> list[str]:
    """The settings a search may vary, in the form's order."""
    return [name for name, setting in SETTINGS.items() if name not in NOT_SEARCHABLE and setting.control != "text"]


def takes_choices(setting: str) -> bool:
    """Whether a search tries listed values of the setting (a picker's or a checkbox's) rather than a range."""
    return SETTINGS[setting].control in ("select", "radio", "checkbox")


def choices_of(setting: str) -> tuple:
    """The values a search may choose among for a setting that `takes_choices`."""
    return SETTINGS[setting].allowed() or (True, False)


@dataclass(frozen=True)
class SearchRange:
    """One setting's range: `low`..`high` (log-spaced when `log`), or one of `choices`."""

    setting: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple = ()

    def distribution(self) -> optuna.distributions.BaseDistribution:
        if self.choices:
            return optuna.distributions.CategoricalDistribution(self.choices)
        if isinstance(self.low, int):
            return optuna.distributions.IntDistribution(self.low, self.high, log=self.log)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)

    def rounded(self, value: Any) -> Any:
        """A float to 3 significant digits (of a linear range's width), kept in the range: 0.00075, not 0.0007501954…"""
        if self.choices or isinstance(self.low, int):
            return value
        return min(max(significant(value, 3, None if self.log else self.high - self.low), self.low), self.high)

    def describe(self) -> str:
        if self.choices:
            return f"{label(self.setting)} ∈ {{{', '.join(map(str, self.choices))}}}"
        return f"{label(self.setting)} {self.low:g}–{self.high:g}{' (log)' if self.log else ''}"


def _typed(name: str, text: str) -> Any:
    """`text` as a value of setting `name`, checked against its declaration (type, bounds, choices)."""
    values, problems = settings_from_text({name: text})
    if problems:
        raise problems[0]
    return values[name]


def make_range(setting: str, low: Any = None, high: Any = None, log: bool = False, choices=()) -> SearchRange:
    """A checked range of `setting` (values or their text, as a form or the command line gives them);
    InputError naming the setting's label when it can't be searched so."""
    if setting not in SETTINGS:
        raise InputError(f"{RANGES_LABEL}: there is no setting '{setting}'. Settings a search can vary: "
                         f"{', '.join(searchable_settings())}.")
    name = label(setting)
    if setting not in searchable_settings():
        raise InputError(f"{name}: a search can't vary it (every trial must be judged on the same data and devices).")
    if choices:
        typed = tuple(dict.fromkeys(_typed(setting, str(choice)) for choice in choices))
        if len(typed) < 2:
            raise InputError(f"{name}: give at least two different values to choose from.")
        return SearchRange(setting, choices=typed)
    if takes_choices(setting):
        raise InputError(f"{name}: takes one of its choices, so list the values to try (e.g. {setting}=a,b).")
    if low is None or high is None:
        raise InputError(f"{name}: give the lowest and highest values to try.")
    low, high = _typed(setting, str(low)), _typed(setting, str(high))
    if low is None or high is None:
        raise InputError(f"{name}: a range needs numbers at both ends, not the architecture's default.")
    if not low < high:
        raise InputError(f"{name}: the lowest value ({low:g}) must be below the highest ({high:g}).")
    if log and low <= 0:
        raise InputError(f"{name}: a log range must start above 0 (it starts at {low:g}).")
    return SearchRange(setting, low, high, bool(log))


def parse_range(text: str) -> SearchRange:
    """A command line's range: `name=low:high`, `name=low:high:log` or `name=choice,choice,...`."""
    setting, sep, rest = text.partition("=")
    if not sep or not rest.strip():
        raise InputError(f"'{text}' is not a range: use name=low:high, name=low:high:log or name=a,b,c.")
    setting, rest = setting.strip(), rest.strip()
    if ":" not in rest:
        return make_range(setting, choices=[choice.strip() for choice in rest.split(",") if choice.strip()])
    parts = [part.strip() for part in rest.split(":")]
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "linear")):
        raise InputError(f"'{text}' is not a range: use name=low:high or name=low:high:log.")
    return make_range(setting, parts[0], parts[1], log=len(parts) == 3 and parts[2] == "log")


@dataclass(frozen=True)
class SearchSpec:
    """What to search: see the module's docstring."""

    base: TrainConfig
    ranges: tuple[SearchRange, ...]
    trials: int = 8
    metric: str = run_schema.VAL_ACCURACY
    parallel: int = 1
    seed: int = 0

    def check(self, max_parallel: int) -> None:
        """InputError naming the input at fault when this search can't run on a manager whose cap
        is `max_parallel`."""
        if not self.ranges:
            raise InputError(f"{RANGES_LABEL}: pick at least one setting to vary.")
        names = [each.setting for each in self.ranges]
        if len(set(names)) < len(names):
            raise InputError(f"{RANGES_LABEL}: each setting may have one range only.")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or not 1 <= self.trials <= MAX_TRIALS:
            raise InputError(f"{TRIALS_LABEL}: must be a whole number from 1 to {MAX_TRIALS}, got {self.trials!r}.")
        if isinstance(self.parallel, bool) or not isinstance(self.parallel, int) or not 1 <= self.parallel <= max_parallel:
            raise InputError(f"{PARALLEL_LABEL}: must be from 1 to {max_parallel} (the runs training at once), "
                             f"got {self.parallel!r}.")
        if self.metric not in METRICS:
            raise InputError(f"{METRIC_LABEL}: use one of {', '.join(METRICS)}, got '{self.metric}'.")
        if self.base.val_fraction == 0:
            raise InputError(f"{label('val_fraction')}: a search prunes trials on their validation accuracy, so "
                             "set it above 0.")
        for each in self.ranges:  # both ends must make a valid config with the rest of the base
            for end in (each.choices or (each.low, each.high)):
                self.base.replace(**{each.setting: end})

    def config(self, params: dict[str, Any]) -> TrainConfig:
        return self.base.replace(**{each.setting: each.rounded(params[each.setting]) for each in self.ranges})

    def describe(self) -> str:
        """What a launch trains, in one line: "4 trials, 2 at once, maximising validation accuracy over
        Learning rate 0.0001–0.01 (log); Optimizer ∈ {adam, sgd}"."""
        return (f"{self.trials} trial{'s' * (self.trials != 1)}, {self.parallel} at once, maximising "
                f"{METRIC_LABELS[self.metric].lower()} over {'; '.join(each.describe() for each in self.ranges)}")

    def to_json(self) -> str:
        return json.dumps({"base": self.base.to_dict(), "trials": self.trials, "metric": self.metric,
                           "parallel": self.parallel, "seed": self.seed,
                           "ranges": [{"setting": r.setting, "low": r.low, "high": r.high, "log": r.log,
                                       "choices": list(r.choices)} for r in self.ranges]})

    @classmethod
    def from_json(cls, text: str) -> SearchSpec:
        values = json.loads(text)
        ranges = tuple(SearchRange(**{**r, "choices": tuple(r["choices"])}) for r in values["ranges"])
        return cls(**{**values, "base": TrainConfig.from_dict(values["base"]), "ranges": ranges})


@dataclass(frozen=True)
class SearchProgress:
    """Where a search stands, read from its study."""

    name: str
    total: int
    complete: int
    pruned: int
    failed: int
    running: int
    stopped: str | None  # why it stopped before all its trials ran ("cancelled", "interrupted: ..."), else None
    best_value: float | None
    best_trial: int | None

    @property
    def ended(self) -> int:
        return self.complete + self.pruned + self.failed

    @property
    def is_active(self) -> bool:
        return self.running > 0 or (self.stopped is None and self.ended < self.total)

    def describe(self) -> str:
        """E.g. "3 of 4 trials, 1 pruned, 1 running"."""
        parts = [f"{self.ended} of {self.total} trials"]
        parts += [f"{count} {what}" for count, what in ((self.pruned, "pruned"), (self.failed, "failed"),
                                                         (self.running, "running")) if count]
        text = ", ".join(parts)
        return f"{text} · {self.stopped}" if self.stopped else text


@dataclass(frozen=True)
class TrialSummary:
    number: int
    state: str  # Optuna's: COMPLETE, PRUNED, FAIL, RUNNING
    value: float | None
    params: dict[str, Any]
    run_id: str | None
    note: str | None  # why it was pruned or failed

    def describe(self) -> str:
        shown = ", ".join(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
                          for name, value in self.params.items())
        value = f" {self.value:.4f}" if self.value is not None else ""
        return f"trial {self.number} {self.state}{value} [{shown}]{f' · {self.note}' if self.note else ''}"


def default_storage_url(tracking_uri: str | None = None) -> str:
    return f"sqlite:///{tracking.store_folder(tracking_uri) / STORAGE_FILE}"


class _Search:
    """One search this process runs: asks Optuna for trials and hands them to the job manager.
    Its methods run in the caller's thread or in jobs' threads (the job hooks), one at a time."""

    def __init__(self, study: optuna.Study, spec: SearchSpec, jobs: JobManager, visitor: str | None,
                 on_trial_end: Callable[[TrialSummary], None] | None):
        self.study, self.spec, self.jobs, self.visitor = study, spec, jobs, visitor
        self.on_trial_end = on_trial_end
        self.lock = threading.RLock()
        self.asked = 0
        self.active: dict[int, str] = {}  # trial number -> job id
        self.trials: dict[int, optuna.Trial] = {}
        self.stopped = False
        self.ended = threading.Event()

    def launch(self) -> None:
        """Lock held. Start trials until `parallel` run or all have been asked for."""
        while not self.stopped and len(self.active) < self.spec.parallel and self.asked < self.spec.trials:
            trial = self.study.ask({r.setting: r.distribution() for r in self.spec.ranges})
            self.asked += 1
            try:
                cfg = self.spec.config(trial.params)
            except InputError as error:  # settings that don't go together: this trial fails, the next is asked
                self.fail(trial, str(error))
                continue
            tags = {run_schema.SEARCH_TAG: self.study.study_name, run_schema.SEARCH_TRIAL_TAG: str(trial.number)}
            self.trials[trial.number] = trial
            try:
                self.active[trial.number] = self.jobs.submit(
                    cfg, f"{self.study.study_name} trial {trial.number}", visitor=self.visitor, tags=tags,
                    on_progress=functools.partial(self.epoch_ended, trial.number, cfg.epochs),
                    on_end=functools.partial(self.trial_ended, trial.number))
            except (InputError, RuntimeError) as error:  # the visitor's cap, or the manager has shut down
                del self.trials[trial.number]
                self.fail(trial, str(error))
                self.stopped = True
                self.study.set_user_attr("stopped", f"stopped: {error}")
        if not self.active:
            self.ended.set()

    def fail(self, trial: optuna.Trial, note: str) -> None:
        trial.set_user_attr("note", note)
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        self.report(trial.number)

    def epoch_ended(self, number: int, epochs: int, progress: Progress) -> None:
        """A trial's job reported (its thread): after an epoch, tell Optuna and prune when it says so."""
        if progress.event != "epoch" or PRUNING_METRIC not in progress.metrics:
            return
        with self.lock:
            trial = self.trials[number]
            trial.report(progress.metrics[PRUNING_METRIC], progress.epoch)
            # The last epoch is not pruned: the trial is as good as done.
            if progress.epoch < epochs and not self.stopped and trial.should_prune():
                trial.set_user_attr("pruned_at_epoch", progress.epoch)
                trial.set_user_attr("note", pruned_note(progress.epoch))
                self.jobs.cancel(self.active[number], reason=pruned_note(progress.epoch))

    def trial_ended(self, number: int, job: JobSnapshot) -> None:
        """A trial's job ended (its thread, or the canceller's): tell Optuna how, start the next."""
        with self.lock:
            trial = self.trials.pop(number)
            self.active.pop(number)
            if job.run_id:
                trial.set_user_attr("run_id", job.run_id)
            value = job.result.metrics.get(METRICS[self.spec.metric]) if job.result is not None else None
            if job.state == "finished" and value is not None:
                self.study.tell(trial, value)
                self.report(number)
            elif job.state == "cancelled" and "pruned_at_epoch" in trial.user_attrs:
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                if job.run_id:  # done for good: the checkpoint kept for resuming a stopped run only takes disk
                    checkpoint.discard(self.jobs.tracking_uri, job.run_id)
                self.report(number)
            elif job.state == "cancelled":
                self.fail(trial, CANCEL_NOTE if self.stopped else "Its run was cancelled.")
            else:
                self.fail(trial, job.error or f"Its run logged no {METRICS[self.spec.metric]}.")
            self.launch()

    def report(self, number: int) -> None:
        if self.on_trial_end:
            self.on_trial_end(_summary(self.study.trials[number], self.spec))

    def cancel(self) -> None:
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
            self.study.set_user_attr("stopped", "cancelled")
            active = list(self.active.values())
            if not active:
                self.ended.set()
        for job_id in active:  # outside the lock: a queued job's end is reported from here
            self.jobs.cancel(job_id, reason=CANCEL_NOTE)


def _summary(trial: optuna.trial.FrozenTrial, spec: SearchSpec) -> TrialSummary:
    """A trial as its run trained it: its values rounded as `SearchSpec.config` rounds them."""
    ranges = {each.setting: each for each in spec.ranges}
    params = {name: ranges[name].rounded(value) if name in ranges else value for name, value in trial.params.items()}
    return TrialSummary(trial.number, trial.state.name, trial.value if trial.state.name == "COMPLETE" else None,
                        params, trial.user_attrs.get("run_id"), trial.user_attrs.get("note"))


class Searches:
    """The searches of one store: starts them on a `JobManager`, cancels the ones this process runs,
    and reads any (running here, in another process, or from before a restart) from Optuna's storage."""

    def __init__(self, jobs: JobManager, storage_url: str | None = None):
        self.jobs = jobs
        url = storage_url or default_storage_url(jobs.tracking_uri)
        if url.startswith("sqlite:///"):
            tracking.store_folder(jobs.tracking_uri).mkdir(parents=True, exist_ok=True)
        self.storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}}
                                                  if url.startswith("sqlite") else None)
        self._live: dict[str, _Search] = {}
        self._lock = threading.Lock()
        self.interrupted = self._close_interrupted()

    def _close_interrupted(self) -> list[str]:
        """Searches whose process ended before they did (a crash, a restart) are marked so, their
        running trials failed (their runs were ended KILLED by that process or by the job manager's
        stale-run recovery): they would otherwise look active for ever. Returns their names."""
        closed = []
        for name in self.names():
            study = optuna.load_study(study_name=name, storage=self.storage)
            owner = study.user_attrs.get("owner")
            if "stopped" in study.user_attrs or not owner or not worker_process.gone(owner["host"], owner["pid"]):
                continue
            if len([t for t in study.trials if t.state.is_finished()]) == SearchSpec.from_json(study.user_attrs["spec"]).trials:
                continue
            for trial in study.trials:
                if trial.state.name == "RUNNING":
                    study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            study.set_user_attr("stopped", "interrupted: the process running it ended")
            closed.append(name)
        return closed

    def start(self, spec: SearchSpec, *, visitor: str | None = None, sampler: optuna.samplers.BaseSampler | None = None,
              pruner: optuna.pruners.BasePruner | None = None,
              on_trial_end: Callable[[TrialSummary], None] | None = None) -> str:
        """Start `spec` (checked first) and return the search's name. TPE is seeded with the spec's
        seed (with a "constant liar" when trials run in parallel, so they don't all try the same
        spot); the median pruner waits for 2 finished trials, then may prune from a trial's first epoch on."""
        spec.check(self.jobs.slots())
        name = f"search-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
        study = optuna.create_study(
            storage=self.storage, study_name=name, direction="maximize",
            sampler=sampler or optuna.samplers.TPESampler(seed=spec.seed, constant_liar=spec.parallel > 1),
            pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=2))  # steps are epochs, from 1
        study.set_user_attr("spec", spec.to_json())
        study.set_user_attr("owner", {"host": socket.gethostname(), "pid": os.getpid()})
        search = _Search(study, spec, self.jobs, visitor, on_trial_end)
        with self._lock:
            self._live[name] = search
        with search.lock:
            search.launch()
        return name

    def cancel(self, name: str) -> None:
        """Stop the search: no more trials, the running ones end KILLED (their trials FAIL)."""
        search = self._live.get(name)
        if search is None:
            raise InputError(f"Search {name} is not running in this process.")
        search.cancel()

    def wait(self, name: str, timeout: float | None = None) -> SearchProgress:
        """Block until a search this process runs has ended, or `timeout` seconds; its progress then."""
        search = self._live.get(name)
        if search is not None:
            search.ended.wait(timeout)
        return self.progress(name)

    def names(self) -> list[str]:
        """Every search in the storage, newest first."""
        return sorted(optuna.study.get_all_study_names(self.storage), reverse=True)

    def study(self, name: str) -> optuna.Study:
        search = self._live.get(name)
        if search is not None:
            return search.study
        try:
            return optuna.load_study(study_name=name, storage=self.storage)
        except KeyError:
            raise InputError(f"There is no search '{name}'.") from None

    def spec(self, name: str) -> SearchSpec:
        return SearchSpec.from_json(self.study(name).user_attrs["spec"])

    def is_live(self, name: str) -> bool:
        """Whether this process runs the search now (only those can be cancelled here)."""
        search = self._live.get(name)
        return search is not None and not search.ended.is_set()

    def progress(self, name: str) -> SearchProgress:
        study = self.study(name)
        states = [trial.state.name for trial in study.trials]
        complete = [trial for trial in study.trials if trial.state.name == "COMPLETE"]
        best = max(complete, key=lambda trial: trial.value, default=None)
        return SearchProgress(name, self.spec(name).trials, len(complete), states.count("PRUNED"),
                              states.count("FAIL"), states.count("RUNNING"), study.user_attrs.get("stopped"),
                              best.value if best else None, best.number if best else None)

    def trials(self, name: str) -> list[TrialSummary]:
        spec = self.spec(name)
        return [_summary(trial, spec) for trial in self.study(name).trials]

    def best_config(self, name: str) -> TrainConfig:
        """The best finished trial's settings over the search's base config."""
        progress = self.progress(name)
        if progress.best_trial is None:
            raise InputError(f"No trial of {name} has finished yet.")
        return self.spec(name).config(self.study(name).trials[progress.best_trial].params)
