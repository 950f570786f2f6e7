"""Uploaded data kept with its run (cnnkit.tracking.uploaded_data), for a worker on another machine."""

from cnnkit.config import TrainConfig
from cnnkit.datasets.uploads import name_file


def test_an_upload_and_its_name_are_kept_with_the_run_and_fetched_back(run_store, tmp_path):
    upload = tmp_path / "stored" / "abc123.csv"
    upload.parent.mkdir()
    upload.write_text("label,pixel0\n1,0\n")
    name_file(upload).write_text("my digits.csv")
    run_id = run_store.schedule_run(TrainConfig())
    run_store.log_uploaded_dataset(run_id, upload)

    fetched = run_store.fetch_uploaded_dataset(run_id, upload.name, tmp_path / "elsewhere")
    assert fetched is not None and fetched.read_text() == upload.read_text()
    named = run_store.fetch_uploaded_dataset(run_id, name_file(upload).name, tmp_path / "elsewhere")
    assert named is not None and named.read_text() == "my digits.csv"


def test_a_run_without_that_upload_fetches_none(run_store, tmp_path):
    run_id = run_store.schedule_run(TrainConfig())
    assert run_store.fetch_uploaded_dataset(run_id, "missing.csv", tmp_path) is None
