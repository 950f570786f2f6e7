"""How the Train page tells training jobs: which one the live view follows, each job's state in
a line, why it ended early, its latest epoch, and the live view's figures."""

import pandas as pd

from cnnkit.config import describe_run
import cnnkit.explorer.charts as charts
import cnnkit.explorer.plain_text as plain_text
from cnnkit.tracking import run_schema

STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/directions_run:",
               "finished": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/cancel:"}


def duration(seconds) -> str:
    """75 → "1m 15s", 9 → "9s", None → "–"."""
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def job_to_watch(jobs: list, chosen: str | None, visitor: str | None):
    """The job the live view follows: `chosen` (watched with its Watch button, launched, or followed
    before) while it exists, else `visitor`'s own newest active job, else their newest job; None when
    they have none: another visitor's job is watched only when chosen. `visitor` None is the operator
    (a tab on the server's own machine, as `JobSnapshot.may_be_cancelled_by` has it), whose jobs are
    all: a tab closed and opened again still follows the run it launched. `jobs`: newest first."""
    own = [job for job in jobs if visitor is None or job.visitor == visitor]
    return (next((job for job in jobs if job.job_id == chosen), None)
            or next((job for job in own if job.is_active), None)
            or next(iter(own), None))


def state_word(job) -> str:
    """The job's state, "cancelling" from the moment a cancel of an active job was asked for."""
    return "cancelling" if job.is_active and job.cancel_requested else job.state


def job_title(job) -> str:
    """Markdown: the job's name in bold, its settings, its run and its device."""
    return (f"**{plain_text.markdown(job.name)}**  \n{plain_text.markdown(describe_run(job.config.to_dict()))}"
            + (f" · run `{job.run_id[:8]}`" if job.run_id else "")
            + (f"  \n:material/memory: {job.device}" if job.device else ""))


def ended_line(job) -> str:
    """An ended job's state, how long it ran and, once finished, its test accuracy."""
    line = f"{STATE_ICONS[job.state]} {job.state} after {duration(job.elapsed_s)}"
    if job.state == "finished" and job.result is not None:
        line += f" · test accuracy {job.result.metrics.get(run_schema.TEST_ACCURACY, float('nan')):.2%}"
    return line


def end_note(job) -> str | None:
    """Why an ended job stopped early: a failed job's error, a cancelled one's reason (its run's note)."""
    if job.state == "failed":
        return job.error
    if job.state == "cancelled":
        return job.error or getattr(job.result, "error", None)
    return None


def progress_bar(job) -> tuple[float, str]:
    """(fraction, text) of a running job's bar: "cancelling…" once a cancel was asked for, else a
    validation or test pass's own, else the run's with its ETA."""
    progress = job.progress
    if job.cancel_requested:
        return job.fraction, "cancelling… it stops before its next batch"
    if progress is not None and progress.pass_batches:
        return progress.pass_fraction, progress.describe()
    detail = progress.describe() if progress else "starting"
    return job.fraction, f"{detail} · ETA {duration(job.eta_s)}"


def live_bar_text(job) -> str:
    """The live view's bar: how far, how long, and the ETA (none once a cancel was asked for)."""
    text = f"{job.fraction:.0%} · elapsed {duration(job.elapsed_s)}"
    return f"{text} · cancelling…" if job.cancel_requested else f"{text} · ETA {duration(job.eta_s)}"


def latest_epoch_line(job) -> str:
    """The curves' values after the job's latest epoch ("" before its first)."""
    if not job.epoch_history:
        return ""
    return " · ".join(f"{k} {v:.4g}" for k, v in job.epoch_history[-1].items() if k in run_schema.EPOCH_CURVES)


def live_figures(epoch_history, batch_history, x: str = "epoch"):
    """(learning curves against `x`, "epoch" or "time", {"batch": batch loss, "lr": learning rate}) of a
    job's histories so far; no batch figures before its first batch."""
    epochs = pd.DataFrame(list(epoch_history))
    batches = pd.DataFrame(list(batch_history), columns=["step", *run_schema.BATCH_METRICS])
    if not len(batches):
        return charts.learning_curves(epochs, x=x), {}
    return charts.learning_curves(epochs, x=x), {
        "batch": charts.batch_loss(batches, smoothing=10),
        "lr": charts.learning_rate(batches["step"], batches[run_schema.BATCH_LR], title="Learning rate per step"),
    }
