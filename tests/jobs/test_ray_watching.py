"""What the Ray runner passes on from the store while a worker trains elsewhere, without a cluster:
each logged epoch once, however the heartbeat's latest progress event and the epoch rows interleave."""

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking import run_schema
from cnnkit.config import TrainConfig
from cnnkit.jobs.events import ProgressReported
from cnnkit.jobs.ray_runner import RayRunner, _Watched
from cnnkit.training import Progress


def test_an_epoch_reported_by_the_heartbeat_and_logged_in_the_store_is_passed_on_once(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = make_client(uri)
    run_store = tracking.RunStore(uri)
    run_id = run_store.start_run(TrainConfig()).run_id
    client.log_metric(run_id, run_schema.LOSS, 0.5, step=1)  # the worker logged epoch 1...
    epoch_end = Progress("training", 1, 1, event="epoch", metrics={run_schema.LOSS: 0.5})
    client.set_tag(run_id, run_schema.PROGRESS_TAG, epoch_end.to_json())  # ...and its heartbeat carried the event
    runner, watched, events = RayRunner.__new__(RayRunner), _Watched(run_id, uri), []
    for _ in range(2):  # two polls of the store
        runner._pass_on_progress(run_store, watched, run_store.run_state(run_id), events.append)
    runner._pass_on_epochs(run_store, watched, events.append)  # and the job's end
    progress = [event.progress for event in events if isinstance(event, ProgressReported)]
    assert [(p.event, p.epoch) for p in progress if p.event == "epoch"] == [("epoch", 1)]
    assert progress[-1].phase == "training" and progress[-1].event == "phase"  # the latest state, not a second epoch
