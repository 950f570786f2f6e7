"""The headless command line: `python -m cnnkit train|search|ablation|ablation-report|label-audit|resume|fork|lr-find|
register|export|corruptions|list|worker` (label-audit's own part: `label_audit_command`)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from cnnkit.config import ServerPaths, TrainConfig, command_line_message, with_id_files
from cnnkit.config import parse_assignments as parse_text_assignments
from cnnkit import label_audit_command
from cnnkit.errors import InputError
from cnnkit.tracking import TEST_ACCURACY, run_schema

PATHS = ServerPaths.anywhere()  # the operator's own shell: any path (one that leads somewhere); its jobs' managers too
# The ablation's words before it was renamed from "study": still taken for one release, with a note on stderr.
RENAMED_COMMANDS = {"study": "ablation", "study-report": "ablation-report"}
RENAMED_OPTIONS = {"--study-preset": "--ablation-preset"}
RENAMED_LISTINGS = {"studies": "ablations"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnkit", description="Train and track CNN image classifiers.")
    commands = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (("train", "train one run and log it to MLflow"),
                            ("search", "search settings with Optuna: each trial a run, pruned early when it lags"),
                            ("ablation", "train an ablation (every factor level x seed) and print each factor's "
                                         "effect with its 95 %% interval across seeds"),
                            ("label-audit", "train k fold runs and rank the training examples whose labels look wrong"),
                            ("lr-find", "run the learning-rate range test and print its suggestion")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--preset", help="start from a seed experiment (see `list presets`)")
        command.add_argument("--dataset", help="registered dataset name (see `list datasets`)")
        command.add_argument("--arch", help="registered architecture name (see `list architectures`)")
        command.add_argument("--epochs", type=int)
        command.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                             help="any setting, repeatable (e.g. --set learning_rate=0.01; see `list settings`)")
    ablation = commands.choices["ablation"]
    ablation.add_argument("--factor", dest="factors", action="append", default=[], metavar="SETTING=LEVEL,LEVEL",
                          help="a setting and its levels, repeatable (e.g. --factor flip=none,horizontal)")
    ablation.add_argument("--seeds", type=int, default=2, help="runs per cell, seeds from the base's seed on")
    ablation.add_argument("--ablation-preset", help="a preset ablation instead of --factor (see `list ablations`)")
    ablation.add_argument("--name", help="the ablation's name (default: its factors)")
    ablation.add_argument("--parallel", type=int, default=1, help="runs training at once")
    label_audit_command.add_arguments(commands.choices["label-audit"])
    report = commands.add_parser("ablation-report", help="print an ablation's cells and effects from the store")
    report.add_argument("ablation_id")
    for command in (ablation, report):
        command.add_argument("--metric", default=TEST_ACCURACY, help=f"the result to analyse (default {TEST_ACCURACY})")
    resume = commands.add_parser("resume", help="continue a stopped or crashed run from its last checkpoint")
    resume.add_argument("run_id")
    fork = commands.add_parser("fork", help="start a new run from a run's snapshot after an epoch (weights and "
                               "optimizer state), with changed settings")
    fork.add_argument("run_id")
    fork.add_argument("--epoch", type=int, required=True, help="the snapshot's epoch; the fork's epochs continue from it")
    fork.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="settings to change, e.g. learning_rate=0.0003")
    fork.add_argument("--run-name")
    register = commands.add_parser("register", help="add a finished run's model to MLflow's Model Registry")
    register.add_argument("run_id")
    register.add_argument("name", help="registered model name (a new version when it exists)")
    export = commands.add_parser("export", help="write a finished run's .keras model, an ONNX copy checked with "
                                 "onnxruntime and a model card (Markdown) into a folder")
    export.add_argument("run_id")
    export.add_argument("--out", help="folder to write into (default: exports/RUN_ID)")
    corrupt = commands.add_parser("corruptions", help="a finished run's accuracy on its test images under 13 "
                                  "corruptions x 5 severities, logged on the run (mean corruption accuracy, drop)")
    corrupt.add_argument("run_id")
    corrupt.add_argument("--images", type=int, help="how many of its first test images (default 2,000)")
    worker = commands.add_parser("worker", help="train (or sweep) one job a runner handed over (a Ray "
                                 "job's entrypoint); SIGTERM ends its run KILLED")
    worker.add_argument("job", metavar="JOB_JSON", help="the job as JSON text, or a file holding it")
    listing = commands.add_parser("list", help="list datasets, architectures, presets, ablations, registered models "
                                  "or the settings --set takes")
    listing.add_argument("what", choices=("datasets", "architectures", "presets", "ablations", "models", "settings"))
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    train, search = commands.choices["train"], commands.choices["search"]
    for command in (train, search, resume, fork, register, export, corrupt, listing, ablation, report,
                    commands.choices["label-audit"]):
        command.add_argument("--tracking-uri",
                             help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db)")
    for command in (train, search):
        command.add_argument("--experiment", default="cnnkit", help="MLflow experiment name")
    search.add_argument("--range", dest="ranges", action="append", required=True, metavar="NAME=LOW:HIGH[:log]|NAME=A,B",
                        help="a setting to vary, repeatable: a range (log-spaced with :log) or values to choose from")
    search.add_argument("--trials", type=int, default=8, help="how many runs the search trains (default 8)")
    search.add_argument("--parallel", type=int, default=1, help="trials training at once (default 1)")
    search.add_argument("--metric", default="val_accuracy", help="what to maximise: val_accuracy or test_accuracy")
    search.add_argument("--sampler-seed", type=int, default=0, help="seeds Optuna's TPE sampler (default 0)")
    train.add_argument("--run-name")
    train.add_argument("--runner", help="where the run trains: threads (this process, the default) or a Ray cluster, "
                       "ray://HOST:8265 (default: $CNNKIT_RUNNER)")
    commands.choices["lr-find"].add_argument("--steps", type=int, default=100)
    return parser


def parse_assignments(assignments: list[str]) -> dict:
    """`--set key=value` settings; `exclude_examples=@FILE` and `relabel_examples=@FILE` read FILE."""
    return with_id_files(parse_text_assignments(assignments))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    from cnnkit.config import get_preset

    base = get_preset(args.preset).settings if args.preset else {}
    named = {key: getattr(args, key) for key in ("dataset", "arch", "epochs") if getattr(args, key) is not None}
    return PATHS.confine(TrainConfig.from_dict({**base, **named, **parse_assignments(args.settings)}))


def _listing(what: str, tracking_uri: str | None) -> list[dict]:
    if what == "models":
        from cnnkit import tracking

        return [{"name": f"{version.name} v{version.version}", "description": f"run {version.run_id}, {version.created}"}
                for version in tracking.RunStore(tracking_uri).registered_models()]
    if what == "ablations":
        from cnnkit.experiments import ABLATION_PRESETS

        return [{"name": name, "description": description} for name, (description, _) in ABLATION_PRESETS.items()]
    if what == "settings":
        from cnnkit.config import setting_rows

        return setting_rows()
    if what == "datasets":
        from cnnkit.datasets import list_datasets

        return list_datasets()
    if what == "architectures":
        from cnnkit.models import list_architectures

        return list_architectures()
    from cnnkit.config import list_presets

    return list_presets()


class ProgressPrinter:
    """Progress lines on stderr: one per epoch, and at most one a second within an epoch."""

    def __init__(self):
        self.last = 0.0

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if progress.event in ("batch", "pass") and now - self.last < 1.0:
            return
        self.last = now
        if progress.phase != "training":
            print(f"[{progress.describe()}]", file=sys.stderr, flush=True)
            return
        shown = " ".join(f"{key}={value:.4g}" for key, value in progress.metrics.items())
        eta = f" eta {progress.eta_s:.0f}s" if progress.eta_s is not None else ""
        print(f"epoch {progress.epoch}/{progress.epochs} batch {progress.batch}/{progress.batches}{eta} {shown}",
              file=sys.stderr, flush=True)


def run_train(args: argparse.Namespace) -> int:
    from cnnkit.jobs import THREADS, runner_setting
    from cnnkit.training import train

    cfg = config_from_args(args)
    setting = runner_setting(args.runner)
    if setting != THREADS:
        return run_remote(args, cfg, setting)
    return _until_ended(lambda cancel: train(cfg, tracking_uri=args.tracking_uri, experiment=args.experiment,
                                             run_name=args.run_name, cancel=cancel, on_progress=ProgressPrinter()))


def run_remote(args: argparse.Namespace, cfg: TrainConfig, setting: str) -> int:
    """Train on the runner `setting` names (a Ray cluster): the worker's output follows on stderr, then
    the same last JSON line and exit status as in this process (`_ended`); Ctrl-C or SIGTERM cancel the
    job there, its run ending KILLED."""
    import asyncio
    import queue

    from cnnkit.jobs import SIGNAL_REASONS, JobEnded, JobSpec, RunCreated, make_remote_runner

    runner = make_remote_runner(setting, args.tracking_uri)
    ended: queue.Queue = queue.Queue()
    created: list[str] = []

    def on_event(event) -> None:
        if isinstance(event, RunCreated):
            created.append(event.run_id)
        elif isinstance(event, JobEnded):
            ended.put(event)

    spec = JobSpec("cli", "train", cfg, args.run_name or f"{cfg.arch} on {cfg.dataset}", args.tracking_uri,
                   args.experiment, server_paths=PATHS)
    handle = runner.submit(spec, on_event)
    print(f"submitted {handle} to {runner.description}", file=sys.stderr, flush=True)

    async def follow() -> None:
        async for lines in runner.follow_logs(handle):
            print(lines, end="", file=sys.stderr, flush=True)

    received = []

    def stop(signum, frame):
        received.append(signum)
        runner.cancel(handle, SIGNAL_REASONS[signum])

    for signum in SIGNAL_REASONS:
        signal.signal(signum, stop)
    asyncio.run(follow())
    outcome = ended.get()
    result = outcome.result
    if result is None:  # the worker ended without ending its run
        return _ended(created[0], "FAILED", {}, outcome.error, received)
    return _ended(result.run_id, result.status, result.metrics, result.error, received)


def run_resume(args: argparse.Namespace) -> int:
    from cnnkit.training import resume

    return _until_ended(lambda cancel: resume(args.run_id, tracking_uri=args.tracking_uri, cancel=cancel,
                                              on_progress=ProgressPrinter()))


def run_fork(args: argparse.Namespace) -> int:
    from cnnkit.training import fork

    changes = parse_assignments(args.settings)
    return _until_ended(lambda cancel: fork(args.run_id, args.epoch, changes, tracking_uri=args.tracking_uri,
                                            run_name=args.run_name, cancel=cancel, on_progress=ProgressPrinter()))


def _until_ended(run, reasons: dict | None = None) -> int:
    """Run `run(cancel)` (train or resume), print its JSON line and return the exit status. SIGINT
    (Ctrl-C) and SIGTERM (kill, docker stop, systemd) stop the run within a batch: it ends KILLED
    with what it logged (its note: `reasons` by signal, else termination's), and the exit status is
    the signal's usual 128 + its number."""
    from cnnkit.jobs import SIGNAL_REASONS
    from cnnkit.tracking import StoreUnavailable, StoreWaitStopped
    from cnnkit.training import StopRequest, failure_message

    cancel, received, reasons = StopRequest(), [], {**SIGNAL_REASONS, **(reasons or {})}

    def on_signal(signum, frame):
        received.append(signum)
        cancel.stop(reasons[signum])

    for signum in SIGNAL_REASONS:
        signal.signal(signum, on_signal)
    try:
        result = run(cancel)
    except (OSError, StoreUnavailable) as error:  # before the run exists: the store's disk is full, or it stays locked
        if received and isinstance(error, StoreWaitStopped):  # stopped while waiting for the store to create it
            return _ended(None, "KILLED", {}, cancel.reason, received)
        return _ended(None, "FAILED", {}, failure_message(error, "starting the run"), received)
    return _ended(result.run_id, result.status, result.metrics, result.error, received)


def final_line(run_id: str | None, status: str, metrics: dict[str, float], error: str | None) -> str:
    """The last stdout line of `train`, `resume`, `fork` and `worker`, whichever runner trained the run: its
    id, its status, for a FINISHED run its results (the `final_*` and `test_*` metrics, `epochs_trained` a
    whole number; nothing else the store holds), and for any other the one line saying why."""
    results = {}
    if status == "FINISHED":
        results = {key: float(value) for key, value in sorted(metrics.items())
                   if key.startswith((run_schema.FINAL_PREFIX, run_schema.TEST_PREFIX))}
        if run_schema.EPOCHS_TRAINED in metrics:
            results[run_schema.EPOCHS_TRAINED] = int(metrics[run_schema.EPOCHS_TRAINED])
    return json.dumps({"run_id": run_id, "status": status, **results, **({"error": error} if error else {})})


def _ended(run_id: str | None, status: str, metrics: dict[str, float], error: str | None, received: list[int]) -> int:
    """Print how the run ended (why on stderr, `final_line` on stdout) and return the exit status: 0 when
    it FINISHED; when KILLED, 128 + the first signal received (SIGINT's 130 when stopped otherwise); else 1."""
    if error:
        print(f"run {status}: {error}", file=sys.stderr)
    print(final_line(run_id, status, metrics, error), flush=True)
    if status == "KILLED":
        return 128 + (received[0] if received else signal.SIGINT)
    return 0 if status == "FINISHED" else 1


WORKER_STOPPED = "Stopped: its job was stopped (cancelled from the app, or its cluster ended it)."


def run_worker(args: argparse.Namespace) -> int:
    """Train the job a runner handed over, in its own run, to its end: like `train`, SIGTERM (Ray's
    stop_job) ends the run KILLED with what it logged; a last JSON line says how it ended. A corruption
    sweep's job sweeps its run instead (`jobs.sweep`): SIGTERM stops it with nothing logged."""
    import tempfile
    from pathlib import Path

    from cnnkit.training import resume, train
    from cnnkit.jobs import read_job, sweep, with_local_data

    reasons = {signal.SIGTERM: WORKER_STOPPED}
    with tempfile.TemporaryDirectory(prefix="cnnkit-worker-") as folder:
        spec = with_local_data(read_job(args.job), Path(folder))
        if spec.kind == "corruptions":
            return _until_ended(lambda cancel: sweep(spec, cancel), reasons)
        if spec.kind == "resume":
            return _until_ended(lambda cancel: resume(spec.run_id, tracking_uri=spec.tracking_uri, cancel=cancel,
                                                      on_progress=ProgressPrinter()), reasons)
        return _until_ended(lambda cancel: train(spec.config, tracking_uri=spec.tracking_uri,
                                                 experiment=spec.experiment, run_name=spec.name, cancel=cancel,
                                                 on_progress=ProgressPrinter(), run_id=spec.run_id), reasons)


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnkit.experiments import export_run
    from cnnkit.tracking import RunStore

    folder = Path(args.out) if args.out else Path("exports") / args.run_id
    export = export_run(RunStore(args.tracking_uri), args.run_id, folder)
    print(export.onnx_note, file=sys.stderr)
    print(json.dumps({"run_id": args.run_id, "folder": str(folder), "files": [path.name for path in export.files],
                      "onnx": export.onnx_note}))
    return 0


def run_search(args: argparse.Namespace) -> int:
    """Print a line per trial as it ends, then the search's JSON line with its best trial. SIGINT and
    SIGTERM cancel the search: its running trials end KILLED."""
    from cnnkit.experiments import search
    from cnnkit.jobs import JobManager

    ranges = tuple(search.parse_range(text) for text in args.ranges)
    spec = search.SearchSpec(config_from_args(args), ranges, args.trials, args.metric, args.parallel, args.sampler_seed)
    jobs = JobManager(tracking_uri=args.tracking_uri, experiment=args.experiment, max_concurrent=max(1, args.parallel),
                      server_paths=PATHS)
    searches = search.Searches(jobs)
    name = searches.start(spec, on_trial_end=lambda trial: print(trial.describe(), flush=True))
    received = []

    def on_signal(signum, frame):
        received.append(signum)
        searches.cancel(name)

    replaced = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        while searches.wait(name, 1.0).is_active:
            pass
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)
        jobs.shutdown()
    progress = searches.progress(name)
    best = searches.trials(name)[progress.best_trial] if progress.best_trial is not None else None
    print(f"{name}: {progress.describe()}" + (f"; best: {best.describe()}" if best else ""), file=sys.stderr)
    print(json.dumps({"search": name, "trials": progress.total, "complete": progress.complete, "pruned": progress.pruned,
                      "failed": progress.failed, "best_trial": progress.best_trial, "best_value": progress.best_value,
                      "best_run_id": best.run_id if best else None, "best_params": best.params if best else None}))
    if received:
        return 128 + received[0]
    return 0 if best else 1


def ablation_from_args(args: argparse.Namespace):
    from cnnkit.experiments import Ablation, parse_factor, preset_ablation

    if args.ablation_preset:
        if args.factors:
            raise InputError("Use either --ablation-preset or --factor, not both.")
        named = {key: getattr(args, key) for key in ("dataset", "arch", "epochs") if getattr(args, key) is not None}
        return preset_ablation(args.ablation_preset, **named, **parse_assignments(args.settings))
    if not args.factors:
        raise InputError("An ablation needs at least one --factor SETTING=LEVEL,LEVEL (or an --ablation-preset).")
    factors = tuple(parse_factor(text) for text in args.factors)
    return Ablation(args.name or " × ".join(factor.name for factor in factors), config_from_args(args), factors,
                    args.seeds)


def run_ablation(args: argparse.Namespace) -> int:
    from cnnkit.jobs import JobManager
    from cnnkit.experiments import AblationLaunch
    from cnnkit.experiments import report
    from cnnkit.tracking import RunStore

    ablation = ablation_from_args(args)
    manager = JobManager(tracking_uri=args.tracking_uri, max_concurrent=max(1, args.parallel), server_paths=PATHS)
    print(f"ablation {ablation.ablation_id}: {ablation.size} runs", file=sys.stderr, flush=True)
    progress = AblationLaunch(ablation, manager).follow(lambda line: print(line, file=sys.stderr, flush=True))
    manager.shutdown()
    print(report(RunStore(args.tracking_uri).ablation_runs(ablation.ablation_id), args.metric))
    # "study_id" too, the key's old name, for scripts written against `study` (one release, as RENAMED_COMMANDS)
    print(json.dumps({"ablation_id": ablation.ablation_id, "study_id": ablation.ablation_id, "runs": progress.total,
                      "finished": progress.finished}))
    return 0 if progress.finished == progress.total else 1


def run_lr_find(args: argparse.Namespace) -> int:
    from cnnkit.training import lr_range_test

    test = lr_range_test(config_from_args(args), steps=args.steps)
    suggestion = test.suggestion
    print(json.dumps({"steepest_lr": suggestion.steepest, "lower_lr": suggestion.lower, "upper_lr": suggestion.upper,
                      "learning_rates": test.learning_rates.tolist(), "losses": test.losses.tolist()}))
    return 0


def run_corruptions(args: argparse.Namespace) -> int:
    """Sweep the run (`training.sweep_run`), progress on stderr, then its metrics as the JSON line; Ctrl-C stops
    it (nothing logged) with status 130."""
    from cnnkit.training import Cancelled, StopRequest, sweep_run

    cancel = StopRequest()
    before = signal.signal(signal.SIGINT, lambda signum, frame: cancel.stop())
    try:
        result = sweep_run(args.run_id, args.tracking_uri, images=args.images, cancel=cancel,
                           on_progress=ProgressPrinter())
    except Cancelled:
        print(json.dumps({"run_id": args.run_id, "status": "KILLED", "error": cancel.reason}))
        return 130
    finally:
        signal.signal(signal.SIGINT, before)
    print(json.dumps({"run_id": result.run_id, "status": result.status, **result.metrics}))
    return 0


def new_spellings(argv: list[str]) -> list[str]:
    """`argv` with the ablation's old words (`study`, `study-report`, `--study-preset`, `list studies`) in
    their new ones, and a one-line note on stderr for each old word used."""
    argv = list(argv)
    command = RENAMED_COMMANDS.get(argv[0], argv[0]) if argv else None
    later = {"ablation": RENAMED_OPTIONS, "list": RENAMED_LISTINGS}.get(command, {})
    for position, word in enumerate(argv):
        old = word.partition("=")[0] if position else word  # an option's name, without its =value
        new = (later if position else RENAMED_COMMANDS).get(old)
        if new:
            argv[position] = new + word[len(old):]
            print(f"note: `{old}` is now `{new}`; the old name works until the next release.", file=sys.stderr)
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(new_spellings(sys.argv[1:] if argv is None else argv))
    # argparse gives a fork's KEY=VALUE settings to its positional only before the first option; later ones come here
    if extra and (args.command != "fork" or any("=" not in text or text.startswith("-") for text in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.settings += extra
    try:
        if args.command == "list":
            rows = _listing(args.what, args.tracking_uri)
            if args.json:
                print(json.dumps(rows, indent=1, default=str))
            else:
                for row in rows:
                    extra = f"  ({row['param_count']:,} params at {row['seed_input_shape']})" if "param_count" in row else ""
                    print(f"{row['name']:<28} {row['description']}{extra}")
            return 0
        if args.command == "lr-find":
            return run_lr_find(args)
        if args.command == "search":
            return run_search(args)
        if args.command == "register":
            from cnnkit import tracking

            version = tracking.RunStore(args.tracking_uri).register_model(args.run_id, args.name)
            if version.note:
                print(f"note: {version.note}", file=sys.stderr)
            print(json.dumps({"name": version.name, "version": version.version, "run_id": version.run_id,
                              "model_uri": version.uri}))
            return 0
        if args.command == "ablation":
            return run_ablation(args)
        if args.command == "label-audit":
            return label_audit_command.run_label_audit(args, config_from_args(args), PATHS)
        if args.command == "ablation-report":
            from cnnkit.experiments import report
            from cnnkit.tracking import RunStore

            print(report(RunStore(args.tracking_uri).ablation_runs(args.ablation_id), args.metric))
            return 0
        if args.command == "export":
            return run_export(args)
        if args.command == "corruptions":
            return run_corruptions(args)
        if args.command == "resume":
            return run_resume(args)
        if args.command == "worker":
            return run_worker(args)
        if args.command == "fork":
            return run_fork(args)
        return run_train(args)
    except InputError as error:
        print(f"error: {command_line_message(error)}", file=sys.stderr)
        return 2
