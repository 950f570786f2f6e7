"""The Runs page and the run pickers at 10,000 runs: filtering and paging on the store against
loading every run.

    .venv/bin/python benchmarks/many_runs.py [--runs 10000] [--repeats 3]

Fills a fresh default-kind store (SQLite, as `tracking.RunStore` makes it, WAL mode) with runs
shaped like `train`'s: the 41 TrainConfig params of a random config, cnnkit's provenance tags, a
person's tag, 10 epochs of the six epoch metrics and the test metrics, a mix of statuses. MLflow's
client would take one `create_run` and one `log_batch` per run (tens of ms each on the team
machine, so minutes for 10,000), so the rows go in bulk through MLflow's own SQLAlchemy table
models (`mlflow.store.tracking.dbmodels.models`) in one transaction, in a child process; this one
then opens the full store as the app does (`RunStore`) and reads it only through it.

Then times, in this process, each arm's median over `--repeats` calls:
- first page: old `RunStore.runs_frame` (what the page loaded: every run, up to its cap of the newest 5,000,
  so the old page never showed nor filtered older runs) against new
  `runs_page` (50 runs, one extra 1-run search to know whether more follow);
- a filter (name contains "#77", dataset mnist, status FINISHED): old `runs_frame` filtered in pandas
  as the page did, against `runs_page` with `run_filter.filter_string`;
- opening a run: the run's details as the page shows them (`RunStore.run`, `run_history`,
  `registered_models`), and the whole page's data with the table: old `runs_frame` + details,
  new `runs_page` + `runs_by_id` of the selection + details;
- Compare of 20 runs: `results_table`, `params_diff` and epoch `histories` of 20 runs (the same
  code in both arms, so their ratio is noise; before its runs were read in one search, 20 runs
  took 2.5 s), and with the Compare page's picker on top: old `runs_frame` (every run), new
  `run_pickers` (the newest finished runs plus the 20 chosen);
- the run pickers of Inspect, Compare and Classify: a picker's options, old as `finished_run_labels`
  made them (`runs_frame`, its finished runs labelled: the newest 5,000 runs, so an older run could
  not be picked) against `run_pickers.offered_runs` (the newest `PICK_COUNT` finished runs); the
  same with an old run chosen (new: `with_chosen` adds it in one more search); finding that old
  run (the oldest finished one) by its whole name and by the start of its id: old, the old
  picker's labels searched as the selectbox's typing did (it is not among them), new
  `offered_runs` with the text.
Prints each time, the ratio old/new and the target: first page <= 1 s, a filter <= 1 s, opening
a run <= 0.5 s, Compare of 20 runs <= 2 s, a picker's options <= 0.3 s (also with an old run
chosen), finding an old run by name or id <= 1 s. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy
from mlflow.store.tracking.dbmodels.models import SqlExperiment, SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag

from cnnkit import tracking
from cnnkit.explorer import run_filter, run_pickers
from cnnkit.tracking import run_schema
from runs_table import EPOCHS, TEST_METRICS, random_config  # the 500-run benchmark's runs, from benchmarks/

TARGETS_S = {"first page": 1.0, "a filter": 1.0, "opening a run": 0.5, "Compare of 20 runs": 2.0,
             "a picker's options": 0.3, "a picker, an old run chosen": 0.3, "finding an old run by name": 1.0,
             "finding an old run by id": 1.0}
STATUSES = ["FINISHED"] * 8 + ["FAILED", "KILLED"]
OLD_LIMIT = 5000  # the newest runs the old page and pickers loaded (`runs_frame`'s cap)
MIN_RUNS = OLD_LIMIT + 100  # an old run beyond the old picker's reach, what the picker arms look for


def fill(uri: str, n_runs: int) -> list[str]:
    """`n_runs` runs in the `cnnkit` experiment, one second apart, oldest first; their ids."""
    rng, engine = random.Random(0), sqlalchemy.create_engine(uri)
    experiment = tracking.RunStore(uri).experiment_id()  # the store and the experiment made as the app makes them
    with engine.connect() as connection:
        artifacts = connection.execute(sqlalchemy.select(SqlExperiment.artifact_location).where(
            SqlExperiment.experiment_id == int(experiment))).scalar_one()
    runs, params, tags, metrics, latest = [], [], [], [], []
    start = int(time.time() * 1000) - n_runs * 1000
    for i in range(n_runs):
        run_id, config = uuid.uuid4().hex, random_config(rng)
        status = "RUNNING" if i % 500 == 0 else rng.choice(STATUSES)
        started = start + i * 1000
        name = f"{config.arch} on {config.dataset} #{i}"
        runs.append(dict(run_uuid=run_id, name=name, source_type="LOCAL", source_name="", entry_point_name="",
                         user_id="bench", status=status, start_time=started,
                         end_time=None if status == "RUNNING" else started + 60_000, source_version="",
                         lifecycle_stage="active", artifact_uri=f"{artifacts}/{run_id}/artifacts",
                         experiment_id=int(experiment)))
        params += [dict(key=key, value=str(value), run_uuid=run_id) for key, value in config.to_params().items()]
        tags += [dict(key=key, value=value, run_uuid=run_id) for key, value in {
            "mlflow.runName": name, "mlflow.user": "bench", run_schema.VERSION_TAG: "bench",
            run_schema.GIT_COMMIT_TAG: "bench", run_schema.KERAS_BACKEND_TAG: "tensorflow",
            run_schema.HOST_TAG: socket.gethostname(), run_schema.PID_TAG: "1", "batch": str(i % 7)}.items()]
        values = {}
        for epoch in range(1, EPOCHS + 1):
            for key in run_schema.EPOCH_METRICS:
                values[key] = dict(key=key, value=rng.random(), timestamp=started + epoch * 1000, step=epoch,
                                   is_nan=False, run_uuid=run_id)
                metrics.append(values[key])
        for key in TEST_METRICS:
            values[key] = dict(key=key, value=rng.random(), timestamp=started + 60_000, step=EPOCHS, is_nan=False,
                               run_uuid=run_id)
            metrics.append(values[key])
        latest += values.values()
    with engine.begin() as connection:
        for model, rows in ((SqlRun, runs), (SqlParam, params), (SqlTag, tags), (SqlMetric, metrics),
                            (SqlLatestMetric, latest)):
            connection.execute(sqlalchemy.insert(model.__table__), rows)
    engine.dispose()
    return [run["run_uuid"] for run in runs]


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def old_filtered(store, text: str, dataset: str, status: str, limit: int = OLD_LIMIT):
    """The Runs page's filtering before the store did it (`git show 5fec800:app_pages/runs.py`), over
    the newest `limit` runs (the page's `runs_frame` loaded 5,000 at most)."""
    runs = store.runs_frame(max_results=limit)
    shown = runs[runs[["name", "run_id", "tags"]].fillna("").apply(
        lambda column: column.str.lower().str.contains(text, regex=False)).any(axis=1)]
    return shown[(shown["dataset"] == dataset) & (shown["status"] == status)]


def old_picker_labels(store) -> dict[str, str]:
    """run id -> label of every finished run, as `finished_run_labels` made them before the pickers
    searched the store (`git show ba69034:app_pages/common.py`): over the newest 5,000 runs."""
    runs = store.runs_frame()
    finished = runs[runs["status"] == "FINISHED"]
    return {row.run_id: run_pickers.run_label(row.name, row.run_id) for row in finished.itertuples()}


def old_typed(store, text: str) -> list[str]:
    """The old picker's runs whose label contains `text`: what typing into its selectbox found."""
    return [run_id for run_id, label in old_picker_labels(store).items() if text.lower() in label.lower()]


def new_picker(store, text: str = "", chosen: tuple[str, ...] = ()) -> dict[str, str]:
    """run id -> label of what a picker offers now (uncached, as each ttl's first rerun)."""
    offered = run_pickers.offered_runs(store, text)
    return run_pickers.with_chosen(offered, chosen, lambda ids: run_pickers.finished_by_id(store, ids)).labels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help=f"at least {MIN_RUNS:,}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fill", help=argparse.SUPPRESS)  # internal: the filling process's part
    args = parser.parse_args()
    if args.fill:
        print(" ".join(fill(args.fill, args.runs)))
        return 0
    if args.runs < MIN_RUNS:
        parser.error(f"--runs {args.runs}: at least {MIN_RUNS:,}, so that old runs lie beyond the {OLD_LIMIT:,} "
                     "newest that the old page and pickers loaded")

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        started = time.perf_counter()  # filled by another process: this one opens a full store, as the app does
        ids = subprocess.run([sys.executable, __file__, "--fill", uri, "--runs", str(args.runs)], check=True,
                             capture_output=True, text=True).stdout.split()
        print(f"filled {args.runs} runs in {time.perf_counter() - started:.1f}s (bulk insert through MLflow's "
              "SQLAlchemy table models, in another process)")
        store = tracking.RunStore(uri)
        store.runs_frame(max_results=1)  # connection and mappers warmed up
        wanted = run_filter.filter_string(run_filter.RunFilter("#77", ("FINISHED",), ("mnist",)))
        opened, compared = ids[len(ids) // 2], ids[-40::2]

        def details():
            store.run(opened), store.run_history(opened), store.registered_models(run_id=opened)

        def compare():
            store.results_table(compared), store.params_diff(compared), store.histories(compared)

        new_page = store.runs_page()
        assert len(new_page.runs) == run_filter.PAGE_SIZE and new_page.more
        matching = store.runs_page(wanted, page_size=args.runs).runs
        assert len(matching) == len(old_filtered(store, "#77", "mnist", "FINISHED", limit=args.runs))
        print(f"the filter keeps {len(matching)} runs, {len(old_filtered(store, '#77', 'mnist', 'FINISHED'))} of "
              "them among the newest 5,000 that the old page loaded")
        oldest = store.runs_by_id(ids[:100]).query("status == 'FINISHED'").iloc[-1]  # the oldest finished run
        old_run, by_name = oldest["run_id"], oldest["name"]
        assert len(new_picker(store)) == run_pickers.PICK_COUNT and old_run not in new_picker(store)
        assert old_run in new_picker(store, chosen=(old_run,)) and old_run in new_picker(store, by_name)
        assert old_run in new_picker(store, old_run[:8]) and old_run not in old_picker_labels(store)
        print(f"the pickers offered {len(old_picker_labels(store))} finished runs, now {run_pickers.PICK_COUNT} "
              f"and any other found by name or id; the old run ({by_name}) was not among the old picker's")
        arms = {  # name -> (old, new)
            "first page": (lambda: store.runs_frame(), lambda: store.runs_page()),
            "a filter": (lambda: old_filtered(store, "#77", "mnist", "FINISHED"), lambda: store.runs_page(wanted)),
            "opening a run": (details, details),
            "opening a run, with the table": (lambda: (store.runs_frame(), details()),
                                              lambda: (store.runs_page(), store.runs_by_id([opened]), details())),
            "Compare of 20 runs": (compare, compare),
            "Compare of 20 runs, with the picker": (lambda: (store.runs_frame(), compare()),
                                                    lambda: (new_picker(store, chosen=tuple(compared)), compare())),
            "a picker's options": (lambda: old_picker_labels(store), lambda: new_picker(store)),
            "a picker, an old run chosen": (lambda: old_picker_labels(store),
                                            lambda: new_picker(store, chosen=(old_run,))),
            "finding an old run by name": (lambda: old_typed(store, by_name), lambda: new_picker(store, by_name)),
            "finding an old run by id": (lambda: old_typed(store, old_run[:8]),
                                         lambda: new_picker(store, old_run[:8])),
        }
        missed = []
        print(f"{'':38} {'old s':>8} {'new s':>8} {'old/new':>8}  target")
        for name, (old, new) in arms.items():
            old_s, new_s = median_seconds(old, args.repeats), median_seconds(new, args.repeats)
            target = TARGETS_S.get(name)
            verdict = "" if target is None else f"<= {target:g} s: {'OK' if new_s <= target else 'MISSED'}"
            if target is not None and new_s > target:
                missed.append(name)
            print(f"{name:38} {old_s:8.3f} {new_s:8.3f} {old_s / new_s:8.1f}  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
