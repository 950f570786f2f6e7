"""How many jobs the app starts at once and who decides, in words for its sidebar and Train page: the
runner where it has a capacity (a Ray cluster's `cnnkit_slot` resources), else the manager's own
`max_concurrent` (the Train page's "Runs training at once")."""

from __future__ import annotations

from cnnkit.jobs.manager import JobManager
from cnnkit.jobs.ray_runner import SLOT_RESOURCE


def where_jobs_run(manager: JobManager) -> str:
    """The sidebar's line (markdown): where jobs run and, on a cluster, how many at once."""
    runner = manager.runner
    line = f"Jobs run on **{runner.description}**"
    if manager.slots_set_by_runner():
        slots = manager.slots()
        return f"{line} · {slots} slot{'s' * (slots != 1)}"
    if runner.detached:
        return (f"{line} · it has no `{SLOT_RESOURCE}` resource, so it caps nothing: this app starts "
                f"{manager.max_concurrent} at once")
    return line


def slots_set_by(manager: JobManager) -> str | None:
    """Why the concurrency control is off (the runner decides how many jobs run at once), or None
    while that is the manager's `max_concurrent`."""
    if not manager.slots_set_by_runner():
        return None
    return (f"Set by {manager.runner.description}: its `{SLOT_RESOURCE}` resources, shared by every app "
            "submitting there. More launches wait in the queue until a slot frees up.")
