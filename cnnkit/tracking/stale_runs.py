"""Runs whose worker is gone (no heartbeat for a while, or its process on this machine ended),
ended KILLED so they don't stay RUNNING for ever."""

from __future__ import annotations

import cnnkit.tracking.worker_process as worker_process
from cnnkit.tracking._store_client import StoreClient, paged
from cnnkit.tracking.heartbeat import heartbeat_age, stale_after_seconds
from cnnkit.tracking.logger import RunLogger
from cnnkit.tracking.run_schema import HOST_TAG, PID_TAG


class StaleRuns(StoreClient):
    """Finding and ending the RUNNING runs nobody trains any more."""

    def kill_stale_runs(self, stale_after_s: float | None = None) -> list[str]:
        """End as KILLED the RUNNING runs whose worker is gone, and return their ids.

        Looks through every active experiment, since `train` can log to any of them. A run is stale
        when its heartbeat (tag `cnnkit.heartbeat`, see `heartbeat`) is older than `stale_after_s`
        (default: `heartbeat.stale_after_seconds()`), whichever machine trained it, or at once when
        it was trained on this machine by a process that is gone (`worker_process`). Runs without a
        heartbeat (other tools, older cnnkit) are left alone.
        """
        limit = stale_after_seconds() if stale_after_s is None else stale_after_s
        experiments = paged(lambda size, token: self._client.search_experiments(max_results=size, page_token=token))
        experiment_ids = [experiment.experiment_id for experiment in experiments]
        killed = []
        for run in self._search_runs(experiment_ids, "attributes.status = 'RUNNING'"):
            tags = run.data.tags
            age = heartbeat_age(tags)
            if age is None:
                continue
            if age > limit:
                why = f"no heartbeat for {age:.0f} s"
            elif worker_process.gone_from_tags(tags):
                why = f"its process {tags[PID_TAG]} on {tags[HOST_TAG]} is gone"
            else:
                continue
            RunLogger(self, run.info.run_id).finish("KILLED",
                                                    f"The worker training this run stopped before it finished: {why}.")
            killed.append(run.info.run_id)
        return killed
