"""Jobs: trainings and learning-rate range tests run in the background, behind one runner seam.

- `manager`: `JobManager`, the queue, the caps and the state of every job (`JobSnapshot`);
- `runner`: the seam (`Runner`, `JobSpec`); `thread_runner` (threads in this process) and
  `ray_runner` (a Ray cluster) behind it, picked by `runner_setting`; `worker`: a cluster's side;
- `events`: what a runner reports (plain values, JSON round trip); `slots`: where jobs run and
  how many at once; `termination`: stopping this process's jobs on SIGTERM, SIGINT or exit.
"""

from cnnkit.jobs.events import JobEnded, RunCreated
from cnnkit.jobs.manager import JobManager, JobSnapshot, visitor_cap_from_environment
from cnnkit.jobs.runner import JobSpec
from cnnkit.jobs.runner_setting import THREADS, make_remote_runner, runner_setting
from cnnkit.jobs.slots import slots_set_by, where_jobs_run
from cnnkit.jobs.termination import SIGNAL_REASONS
from cnnkit.jobs.worker import read_job, sweep, with_local_data

__all__ = [
    "JobEnded", "JobManager", "JobSnapshot", "JobSpec", "RunCreated", "SIGNAL_REASONS", "THREADS", "make_remote_runner",
    "read_job", "runner_setting", "slots_set_by", "sweep", "visitor_cap_from_environment", "where_jobs_run",
    "with_local_data",
]
