"""How the Train page tells training jobs: which one the live view follows, each job's state in
a line, its latest epoch, and the live view's figures."""

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


def job_to_watch(jobs: list, watched: str | None):
    """The job with id `watched` (launched, chosen or followed), else the newest running one, else the
    newest queued, else the newest (`jobs` newest first, not empty)."""
    return (next((job for job in jobs if job.job_id == watched), None)
            or next((job for job in jobs if job.state == "running"), None)
            or next((job for job in jobs if job.is_active), jobs[0]))


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


def progress_bar(job) -> tuple[float, str]:
    """(fraction, text) of a running job's bar: a validation or test pass's own, else the run's with its ETA."""
    progress = job.progress
    if progress is not None and progress.pass_batches:
        return progress.pass_fraction, progress.describe()
    detail = progress.describe() if progress else "starting"
    return job.fraction, f"{detail} · ETA {duration(job.eta_s)}"


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
