"""A run's life in the store (cnnkit.tracking.run_lifecycle): provenance tags naming who trains it."""

import os
import socket

from cnnkit.config import TrainConfig
from cnnkit.tracking import worker_process


def test_provenance_tags_name_this_host_and_process(run_store, client):
    tags = client.get_run(run_store.start_run(TrainConfig()).run_id).data.tags
    assert tags["cnnkit.host"] == socket.gethostname()
    assert tags["cnnkit.pid"] == str(os.getpid())
    assert tags.get("cnnkit.pid_started") == worker_process.start_time(os.getpid())
    assert tags.get("cnnkit.pid_namespace") == worker_process.this_process().get("cnnkit.pid_namespace")
