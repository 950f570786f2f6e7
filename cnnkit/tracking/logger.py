"""A run's writer: metrics buffered and written by their own thread, params, tags, artifacts and
the model written through the run's patience with a busy store, and the run's end."""

from __future__ import annotations

import json
import math
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from cnnkit import full_disk
from cnnkit.errors import one_line
import cnnkit.tracking.dataset_inputs as dataset_inputs
import cnnkit.tracking.mlflow_model as mlflow_model
from cnnkit.tracking.artifacts import file_sha256
from cnnkit.tracking.patience import Patience, StoreUnavailable, StoreWaitStopped, broken_store
from cnnkit.tracking.run_schema import ERROR_TAG, MODEL_ARTIFACT, sha256_tag
from cnnkit.tracking.store_address import shown_uri, store_place
from cnnkit.tracking.store_opening import MOVE_AWAY, StoreError

_MAX_METRICS_PER_CALL = 1000  # MLflow's log_batch limit


class RunLogger:
    """Writes to one MLflow run without holding training up.

    Metrics are buffered and written by the logger's own thread in batches, at most every
    `flush_seconds`, so per-batch logging costs no store round-trip. Any write the store refuses
    (locked, unreachable) is retried with backoff, metrics kept in memory meanwhile: a busy store
    delays logging, never training. Only when the store has refused writes for longer than the
    `patience` allows does logging raise StoreUnavailable, so the run can end FAILED.

    Made by a `RunStore` (`start_run`, `attach_run`, `reopen_run`, `logger`), which it keeps as
    `store`, for reading back what the run holds.
    """

    def __init__(self, store, run_id: str, flush_seconds: float = 2.0, patience: Patience | None = None):
        self.store, self.run_id, self.flush_seconds = store, run_id, flush_seconds
        self._client = store._client  # the store's own client: loggers are made inside cnnkit.tracking only
        self.patience = patience or Patience()
        self._changed = threading.Condition()  # guards everything below
        self._pending: list[Metric] = []  # logged, not yet in the store, oldest first
        self._flush_requested = False
        self._closed = False  # finished: the writer thread ends
        self._writer_error: Exception | None = None  # why the writer stopped: StoreUnavailable, or a permanent refusal
        self._writer: threading.Thread | None = None

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        timestamp = int(time.time() * 1000)
        with self._changed:
            self._raise_writer_error()
            self._pending += [Metric(key, float(value), timestamp, step) for key, value in values.items()]
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_metrics, name=f"RunLogger {self.run_id[:8]}",
                                                daemon=True)
                self._writer.start()
            if len(self._pending) >= _MAX_METRICS_PER_CALL:
                self._changed.notify_all()

    def flush(self, wait: bool = False) -> None:
        """Have the buffered metrics written now. With `wait`, return once the store holds every
        metric logged so far (a checkpoint must not claim epochs the store lacks): that waits for a
        busy store up to the patience, then raises StoreUnavailable, as a failed write does."""
        with self._changed:
            self._raise_writer_error()
            self._flush_requested = True
            self._changed.notify_all()
            if wait:
                self._wait_written()
                self._raise_writer_error()

    def log_params(self, params: dict[str, Any]) -> None:
        self._store_call(lambda: self._client.log_batch(self.run_id, params=[Param(key, str(value))
                                                                       for key, value in params.items()]))

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._store_call(lambda: self._client.log_batch(self.run_id, tags=[RunTag(key, str(value))
                                                                     for key, value in tags.items()]))

    def log_datasets(self, data, path: str, fingerprint: str, test_fingerprint: str) -> None:
        """`data`'s splits as MLflow dataset inputs (`dataset_inputs`); logged again (a resumed run), nothing changes."""
        inputs = dataset_inputs.dataset_inputs(data, path, fingerprint, test_fingerprint)
        self._store_call(lambda: self._client.log_inputs(self.run_id, datasets=inputs))

    def log_text(self, text: str, artifact_file: str) -> None:
        self._artifact_call(lambda: self._client.log_text(self.run_id, text, artifact_file))

    def log_json(self, value: Any, artifact_file: str) -> None:
        self.log_text(json.dumps(value, indent=1), artifact_file)

    def log_table(self, table: pd.DataFrame, artifact_file: str) -> None:
        self.log_text(table.to_csv(index=False), artifact_file)

    def log_file(self, local_path: Path, artifact_path: str, checksum: bool = False) -> None:
        """The file under `artifact_path`; with `checksum`, its SHA-256 first, as the tag `sha256_tag`
        names, which loading it checks (so no such file is ever in the store unchecked)."""
        if checksum:
            self.set_tags({sha256_tag(f"{artifact_path}/{local_path.name}"): file_sha256(local_path)})
        self._artifact_call(lambda: self._client.log_artifact(self.run_id, str(local_path), artifact_path))

    def log_arrays(self, arrays: dict[str, np.ndarray], artifact_file: str, checksum: bool = False) -> None:
        """Arrays as an .npz (no pickled objects, so it loads with allow_pickle=False)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_file).name
            with full_disk.named(tempfile.gettempdir()):
                np.savez_compressed(path, **arrays)
            self.log_file(path, str(Path(artifact_file).parent), checksum)

    def log_model(self, model, class_names: Sequence[str], light_on_dark: bool, example: np.ndarray,
                  temperature: float | None = None) -> None:
        """The model as an MLflow Model in `model/` (see `mlflow_model`): its .keras file at MODEL_ARTIFACT,
        whose SHA-256 is tagged first (`load_model` checks it), with an MLmodel that takes image files
        fitted as Classify fits them (`light_on_dark`: inverted when on a light background), answers
        `class_names`' probabilities (calibrated with `temperature` when one was fitted) and shows `example`
        (H, W, C) uint8 as its input example."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(MODEL_ARTIFACT).name
            folder = Path(tmp) / Path(MODEL_ARTIFACT).parent
            with full_disk.named(tempfile.gettempdir()):
                model.save(path)
                sha256 = file_sha256(path)
                mlflow_model.save_mlflow_model(folder, path, class_names, light_on_dark, sha256, example, self.run_id,
                                               temperature)
            self.set_tags({sha256_tag(MODEL_ARTIFACT): sha256})
            self._artifact_call(lambda: self._client.log_artifacts(self.run_id, str(folder), folder.name))

    def finish(self, status: str, error: str | None = None) -> None:
        """End the run as FINISHED, FAILED or KILLED, after writing what is buffered. When the store
        stays away past the patience, the run is left RUNNING there (the stale-run check ends it
        once this process is gone) and this returns all the same."""
        try:
            try:
                self._write_pending()
            finally:  # the note too when metrics could not be written
                if error:
                    self.set_tags({ERROR_TAG: error[:5000]})
        finally:
            with self._changed:
                self._closed = True
                self._changed.notify_all()
            self._store_call(lambda: self._client.set_terminated(self.run_id, status))

    # ---- retrying ---------------------------------------------------------------------

    def _store_call(self, action):
        """A write to the store through the patience: a full disk names the store, a broken one is a StoreError."""
        with full_disk.named(lambda: store_place(self.store.tracking_uri)):
            try:
                return self.patience.call(action)
            except MlflowException as error:
                if not broken_store(error):
                    raise
                raise StoreError(f"The tracking store {shown_uri(self.store.tracking_uri)} can't be written: "
                                 f"{one_line(error)}. {MOVE_AWAY}") from None

    def _artifact_call(self, action):
        """A write of artifacts through the patience; a full disk names the run's artifact folder."""
        with full_disk.named(self._artifact_place):
            return self.patience.call(action, kind="artifacts")

    def _artifact_place(self) -> str:
        """Where the run's artifacts go: a folder, or the URI of a remote artifact store."""
        try:
            uri = self._client.get_run(self.run_id).info.artifact_uri
        except Exception:  # the store may be what is failing
            return "the run's artifact folder"
        return urllib.parse.unquote(urllib.parse.urlsplit(uri).path) if uri.startswith("file:") else uri

    def _write_metrics(self) -> None:
        """The writer thread: writes buffered metrics when asked to or every `flush_seconds`,
        oldest first; ends when the run is finished, or at StoreUnavailable or a refusal retrying
        can't mend."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._flush_requested or self._closed
                                       or len(self._pending) >= _MAX_METRICS_PER_CALL, timeout=self.flush_seconds)
                if self._closed:
                    return
                self._flush_requested = False
                chunk = self._pending[:_MAX_METRICS_PER_CALL]
            try:
                if self.patience.gave_up:  # another write gave up: a failure now would pass unnoticed
                    raise self.patience.gave_up
                if chunk:
                    self._store_call(lambda: self._client.log_batch(self.run_id, metrics=chunk))
            except Exception as error:
                with self._changed:
                    self._writer_error = error
                    self._changed.notify_all()
                return
            with self._changed:
                del self._pending[:len(chunk)]  # only this thread removes, and only what it wrote
                self._changed.notify_all()

    def _write_pending(self) -> None:
        """Wait until the writer has written every buffered metric (a stopping run waits out the
        stop's grace at most); when it gave up, try once more."""
        with self._changed:
            grace = self.patience.stop_grace_left()
            written = self._wait_written(None if grace == math.inf else grace)
            error, left = self._writer_error, list(self._pending)
        if not written:  # the writer is still at it: writing its metrics here too could store them twice
            raise StoreWaitStopped("stopped before the tracking store took the run's last metrics")
        if error is not None and not isinstance(error, StoreUnavailable):
            raise error
        for start in range(0, len(left), _MAX_METRICS_PER_CALL):  # the store gave up: one last attempt each
            chunk = left[start:start + _MAX_METRICS_PER_CALL]
            self._store_call(lambda chunk=chunk: self._client.log_batch(self.run_id, metrics=chunk))

    def _wait_written(self, timeout: float | None = None) -> bool:
        """Lock held. Have the writer write until nothing is buffered or it stopped (metrics logged
        meanwhile, such as a heartbeat's, included); whether that happened within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending and self._writer_error is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._flush_requested = True
            self._changed.notify_all()
            self._changed.wait(left)
        return True

    def _raise_writer_error(self) -> None:
        if self._writer_error is not None:
            raise self._writer_error
