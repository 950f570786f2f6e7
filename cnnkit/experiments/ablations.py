"""Ablations: a base config, factors with levels, and a number of seeds, run as one grid.

An `Ablation` expands into one run per cell (a level of every factor) and seed, each tagged with the
ablation, its cell and its seed (tag names in `run_schema`), so the analysis (`ablation_analysis`) can
find them in the store again. `AblationLaunch` sends the grid through a `JobManager` in grid order,
as the manager's caps allow, and cancels it as a whole. No Streamlit here.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cnnkit.tracking import run_schema
from cnnkit.config import SETTINGS, TrainConfig, assignments_from_text, label, settings_from_text, split_list
from cnnkit.errors import InputError

MAX_RUNS = 500  # an ablation this big is a typo, not an experiment
NOT_FACTORS = ("seed", "dataset_path")  # the seed is the ablation's own repetition; paths are not levels


@dataclass(frozen=True)
class Level:
    """One level of a factor: its label and the settings it applies over the base."""

    label: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Factor:
    """A factor: its name and its levels; the first level is the baseline effects are measured from."""

    name: str
    levels: tuple[Level, ...]


def setting_factor(name: str, levels: Sequence[Any]) -> Factor:
    """A factor that varies one setting (a name from cnnkit/config/settings.py) over `levels`, given as values
    or as text (form, CLI); InputError naming the setting's label for anything the setting can't take."""
    if name not in SETTINGS or name in NOT_FACTORS:
        known = ", ".join(setting for setting in SETTINGS if setting not in NOT_FACTORS)
        raise InputError(f"'{name}' is not a setting an ablation can vary. Settings: {known}.")
    if len(levels) < 2:
        raise InputError(f"{label(name)}: a factor needs at least two levels, got {len(levels)}.")
    values = []
    for level in levels:
        typed, problems = settings_from_text({name: level}) if isinstance(level, str) else ({name: level}, [])
        if problems:
            raise problems[0]
        values.append(typed[name])
    if len(set(map(str, values))) < len(values):
        raise InputError(f"{label(name)}: the levels repeat ({', '.join(map(str, levels))}).")
    return Factor(name, tuple(Level(_level_label(value), {name: value}) for value in values))


def _level_label(value: Any) -> str:
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def parse_factor(text: str) -> Factor:
    """A factor from the command line's `setting=level,level,...`, e.g. `flip=none,horizontal`."""
    name, sep, levels = text.partition("=")
    if not sep:
        raise InputError(f"--factor '{text}' is not setting=level,level (e.g. flip=none,horizontal).")
    return setting_factor(name.strip(), split_list(levels))


@dataclass(frozen=True)
class PlannedRun:
    """One run of an ablation: its config, its cell (factor name -> level label), its seed and tags."""

    config: TrainConfig
    cell: Mapping[str, str]
    seed: int
    name: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class Ablation:
    """A base config, the factors varied over it, and the seeds each cell is repeated with (the base's
    seed, then the next ones)."""

    name: str
    base: TrainConfig
    factors: tuple[Factor, ...]
    seeds: int = 2
    ablation_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        if not self.factors:
            raise InputError("Factors: an ablation needs at least one factor.")
        if len({factor.name for factor in self.factors}) < len(self.factors):
            raise InputError("Factors: each factor may appear only once.")
        if not 1 <= self.seeds <= 100:
            raise InputError(f"Seeds: use between 1 and 100, got {self.seeds}.")
        if self.size > MAX_RUNS:
            raise InputError(f"Seeds: this ablation would train {self.size:,} runs, more than {MAX_RUNS}: "
                             "use fewer levels or seeds.")
        self.expand()  # every cell's settings must go together

    @property
    def size(self) -> int:
        cells = 1
        for factor in self.factors:
            cells *= len(factor.levels)
        return cells * self.seeds

    def expand(self) -> list[PlannedRun]:
        """Every run of the grid, cell by cell (first factor slowest), each cell's seeds together.
        InputError, naming the setting's label, for a cell whose settings don't go together."""
        runs = []
        for levels in itertools.product(*(factor.levels for factor in self.factors)):
            settings = {name: value for level in levels for name, value in level.settings.items()}
            cell = {factor.name: level.label for factor, level in zip(self.factors, levels)}
            for seed in range(self.base.seed, self.base.seed + self.seeds):
                config = self.base.replace(**settings, seed=seed)
                runs.append(PlannedRun(config, cell, seed, f"{self.name} · {describe_cell(cell)} · seed {seed}",
                                       self._tags(cell, seed)))
        return runs

    def _tags(self, cell: Mapping[str, str], seed: int) -> dict[str, str]:
        """The run's tags; their names keep the word "study" the ablation had before, so older runs still match."""
        return {run_schema.ABLATION_ID_TAG: self.ablation_id, run_schema.ABLATION_NAME_TAG: self.name,
                run_schema.ABLATION_CELL_TAG: json.dumps(dict(cell)), run_schema.ABLATION_SEED_TAG: str(seed),
                run_schema.ABLATION_SIZE_TAG: str(self.size)}


def describe_cell(cell: Mapping[str, str]) -> str:
    """"Random flips horizontal, Batch normalisation False": a cell for a person."""
    return ", ".join(f"{label(factor)} {level}" for factor, level in cell.items())


# ---- preset ablations ----------------------------------------------------------------------


def _added(preset: str, over: str) -> dict[str, Any]:
    """The settings preset `preset` adds to (or changes in) preset `over`."""
    from cnnkit.config import get_preset

    base = get_preset(over).settings
    return {key: value for key, value in get_preset(preset).settings.items() if base.get(key) != value}


def _seed002_ablation() -> Ablation:
    from cnnkit.config import get_preset

    annealing = _added("seed002_annealing", "seed002_baseline")
    augmentation = _added("seed002_augmented", "seed002_annealing")
    return Ablation(
        "seed002 ablation", get_preset("seed002_baseline").config(),
        (Factor("LR annealing", (Level("off", {}), Level("on", annealing))),
         Factor("augmentation", (Level("off", {}), Level("on", augmentation)))),
        seeds=3,
    )


ABLATION_PRESETS = {  # name -> (description, builder): seed 002's three models as a full 2 x 2 grid with seeds
    "seed002_ablation": ("Seed 002's MNIST CNN: learning-rate annealing on/off × augmentation on/off, 3 seeds",
                         _seed002_ablation),
}


def preset_ablation(name: str, seeds: int | None = None, **base_changes: Any) -> Ablation:
    """A preset ablation, a fresh id each call; `base_changes` adjust its base (e.g. fewer epochs)."""
    if name not in ABLATION_PRESETS:
        raise InputError(f"Unknown ablation preset '{name}'. Known: {', '.join(ABLATION_PRESETS)}.")
    ablation = ABLATION_PRESETS[name][1]()
    return Ablation(ablation.name, ablation.base.replace(**base_changes), ablation.factors, seeds or ablation.seeds)


def ablation_of_form(name: str, base: TrainConfig, levels: Mapping[str, Sequence[Any]], seeds: int) -> Ablation:
    """An ablation from a form: `levels` maps each chosen setting to its levels, values or text (text is
    one string, its levels separated by commas or spaces)."""
    factors = tuple(setting_factor(setting, split_list(chosen) if isinstance(chosen, str) else list(chosen))
                    for setting, chosen in levels.items())
    return Ablation(name.strip() or " × ".join(label(setting) for setting in levels), base, factors, seeds)


def missing_choice(levels: Mapping[str, Sequence[Any] | str]) -> str | None:
    """What a form (`levels` as `ablation_of_form` takes them) still lacks before it is an ablation, in
    neutral words, or None: said before anything is wrong, so nothing is red before a person typed."""
    if not levels:
        return "Choose the factors to vary: every level of each is combined with every level of the others."
    empty = [label(setting) for setting, chosen in levels.items()
             if not (split_list(chosen) if isinstance(chosen, str) else chosen)]
    if empty:
        return f"Give the levels of {', '.join(empty)}: two or more, separated by commas or spaces."
    return None


def base_config(values: Mapping[str, Any], changes: str = "") -> TrainConfig:
    """The base of an ablation: `values` (a form's settings, a preset's, a run's config) with `changes`
    (`key=value` text, see `config.assignments_from_text`) applied; InputError naming the label of a
    setting at fault."""
    return TrainConfig.from_dict({**values, **assignments_from_text(changes)})


# ---- launching through the job manager ------------------------------------------------------


@dataclass(frozen=True)
class AblationProgress:
    total: int
    finished: int = 0
    failed: int = 0  # failed or cancelled
    running: int = 0
    waiting: int = 0  # queued in the manager or not submitted yet

    @property
    def ended(self) -> int:
        return self.finished + self.failed

    @property
    def active(self) -> bool:
        return self.ended < self.total

    def describe(self) -> str:
        parts = [f"{self.ended} of {self.total} runs done", self.failed and f"{self.failed} failed or cancelled",
                 self.running and f"{self.running} running", self.waiting and f"{self.waiting} waiting"]
        return " · ".join(filter(None, parts))


def may_cancel(launched_by: str | None, visitor: str | None) -> bool:
    """The job manager's rule for a group of jobs launched by `launched_by`: its own visitor may cancel them, and
    the operator (`visitor` None) anyone's."""
    return visitor is None or launched_by in (None, visitor)


class AblationLaunch:
    """An ablation's runs going through `manager`, in grid order. What the manager refuses for the
    visitor's cap waits here, and is submitted as the ablation's own jobs end; the manager's
    `max_concurrent` cap and queue order do the rest. The first submission happens in the caller's
    thread, so a refused ablation fails at once; the rest are fed by a daemon thread. Any group of runs
    with a `name` and an `expand()` into `PlannedRun`s goes through it so (a label audit's folds)."""

    def __init__(self, ablation: Ablation, manager, visitor: str | None = None, poll_s: float = 1.0):
        self.ablation, self.manager, self.visitor = ablation, manager, visitor
        self.runs = ablation.expand()
        self.job_ids: list[str] = []
        self.error: str | None = None  # why the rest of the ablation could not be submitted
        self._lock = threading.Lock()
        self._cancelled = False
        self._poll_s = poll_s
        self._submit_next()  # InputError: nothing was submitted
        self._feeder = threading.Thread(target=self._feed, name=f"cnnkit runs of {ablation.name}", daemon=True)
        self._feeder.start()

    def _submit_next(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            run = self.runs[len(self.job_ids)]
            self.job_ids.append(self.manager.submit(run.config, run.name, visitor=self.visitor, tags=dict(run.tags)))

    def _feed(self) -> None:
        while len(self.job_ids) < len(self.runs) and not self._cancelled:
            try:
                self._submit_next()
            except InputError as error:  # the visitor's cap: wait for one of their jobs (ours first) to end
                active = [job for job in self._snapshots() if job.is_active] or self._visitors_other_active_jobs()
                if not active:  # nothing holds the cap: the refusal has another reason
                    self.error = str(error)
                    return
                self.manager.wait(active[0].job_id, timeout=self._poll_s)
            except RuntimeError:  # the manager has shut down
                self.error = "The job manager shut down before the ablation was submitted."
                return

    def _visitors_other_active_jobs(self) -> list:
        return [job for job in self.manager.snapshots()
                if job.visitor == self.visitor and job.is_active and job.job_id not in self.job_ids]

    def _snapshots(self) -> list:
        return [job for job in map(self.manager.find, list(self.job_ids)) if job is not None]

    def may_be_cancelled_by(self, visitor: str | None) -> bool:
        return may_cancel(self.visitor, visitor)

    def cancel(self, visitor: str | None = None) -> None:
        """Stop the ablation: nothing more is submitted, its queued jobs are dropped, its running ones stop.
        InputError, and nothing changes, when `visitor` may not (`may_cancel`)."""
        if not self.may_be_cancelled_by(visitor):
            raise InputError(f"{self.ablation.name} was launched by another visitor: only they, or whoever runs this "
                             "server, can cancel it.")
        with self._lock:
            self._cancelled = True
        for job in self._snapshots():
            if job.is_active:
                self.manager.cancel(job.job_id, visitor=visitor)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def progress(self) -> AblationProgress:
        jobs = self._snapshots()
        unsubmitted = len(self.runs) - len(jobs)
        states = [job.state for job in jobs]
        if self._cancelled or self.error:  # never submitted: never will be
            return AblationProgress(len(self.runs), states.count("finished"), len(self.runs) - states.count("finished")
                                 - states.count("running") - states.count("queued"), states.count("running"),
                                 states.count("queued"))
        return AblationProgress(len(self.runs), states.count("finished"), states.count("failed") + states.count("cancelled"),
                             states.count("running"), states.count("queued") + unsubmitted)

    def wait(self, timeout: float | None = None) -> AblationProgress:
        """Block until every run has ended (or `timeout` seconds have passed); the progress then."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.progress().active and (deadline is None or time.monotonic() < deadline):
            active = [job for job in self._snapshots() if job.is_active]
            if active:
                self.manager.wait(active[0].job_id, timeout=self._poll_s)
            else:
                time.sleep(0.05)
        return self.progress()

    def follow(self, say: Callable[[str], None], every_s: float = 5.0) -> AblationProgress:
        """Block until every run has ended, telling `say` the progress line whenever it changed (looked at
        every `every_s` seconds) and once more at the end; the progress then. The CLI's commands print so."""
        shown = None
        while (progress := self.wait(timeout=every_s)).active:
            if progress.describe() != shown:
                shown = progress.describe()
                say(shown)
        say(progress.describe())
        return progress
