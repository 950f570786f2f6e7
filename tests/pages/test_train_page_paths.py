"""The Train page's "Path on this machine": off unless served on localhost, confined to the data folders."""

from pathlib import Path

import pytest
from streamlit import config as streamlit_config

from cnnkit.config import TrainConfig
from cnnkit.datasets import save_upload

from test_pages import launch_button, three_class_csv
from alerts import alert_text


@pytest.fixture()
def served_on(monkeypatch):
    """Set Streamlit's `server.address` for this test (None: Streamlit's default, every address)."""
    before = streamlit_config.get_option("server.address")
    for variable in ("CNNKIT_ALLOW_SERVER_PATHS", "CNNKIT_DATA_ROOTS", "CNNKIT_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    yield lambda address: streamlit_config.set_option("server.address", address)
    streamlit_config.set_option("server.address", before)


def run_with_path(app, path: str):
    app.session_state["relaunch_config"] = TrainConfig(dataset="csv", dataset_path=path).to_dict()
    return app.run()


def data_loaded(at) -> bool:
    return any(metric.label == "Train" for metric in at.metric)


def test_off_localhost_a_server_path_is_refused_unread_and_blocks_launch(app, tmp_path, served_on):
    served_on(None)
    csv = three_class_csv(tmp_path / "mine.csv")  # a valid dataset: refused for where it is, not what it holds
    at = run_with_path(app, csv)
    assert not at.exception
    assert at.text_input(key="cfg.dataset_path").disabled
    assert [alert_text(error) for error in at.error if "Path on this machine" in alert_text(error)] == [
        f"Path on this machine: {csv} is not an upload, and paths on this machine are off because the app is not "
        "served on localhost: upload the file instead (the operator can set CNNKIT_ALLOW_SERVER_PATHS=1)."]
    assert not data_loaded(at) and launch_button(at).disabled


def test_off_localhost_an_uploaded_dataset_still_loads(app, tmp_path, served_on):
    served_on(None)
    data = open(three_class_csv(tmp_path / "mine.csv"), "rb").read()
    _, stored = save_upload(data, "mine.csv", tmp_path / "mlruns" / "uploads")  # the app's uploads folder (cwd)
    at = run_with_path(app, str(stored))
    assert not at.exception and data_loaded(at) and not launch_button(at).disabled


def test_on_localhost_paths_under_the_data_folder_load_and_others_are_refused(app, tmp_path, served_on, monkeypatch):
    served_on("127.0.0.1")
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    at = run_with_path(app, three_class_csv(tmp_path / "data" / "three.csv"))
    assert not at.exception and data_loaded(at) and not at.text_input(key="cfg.dataset_path").disabled
    at = run_with_path(app, "/etc/passwd")
    errors = [alert_text(error) for error in at.error if "Path on this machine" in alert_text(error)]
    assert len(errors) == 1 and errors[0].startswith("Path on this machine: /etc/passwd is outside the folders")
    assert ":0:0:" not in errors[0]  # nothing of the file is shown
    assert not data_loaded(at) and launch_button(at).disabled


def test_a_symlink_loop_in_the_data_folder_is_one_line_not_a_traceback(app, tmp_path, served_on, monkeypatch):
    served_on("127.0.0.1")
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a").symlink_to(tmp_path / "data" / "b")
    (tmp_path / "data" / "b").symlink_to(tmp_path / "data" / "a")
    at = run_with_path(app, str(tmp_path / "data" / "a"))
    assert not at.exception
    assert [alert_text(error) for error in at.error if "Path on this machine" in alert_text(error)] == [
        f"Path on this machine: {tmp_path / 'data' / 'a'} is a loop of symbolic links that leads to no file or folder."]
    assert not data_loaded(at) and launch_button(at).disabled


def test_an_uploaded_csvs_problem_names_the_file_as_uploaded_not_where_the_server_keeps_it(app, tmp_path, served_on):
    served_on(None)
    at = app.run()
    at.selectbox(key="cfg.dataset").set_value("csv").run()
    at.file_uploader(key="upload").upload("train.csv", b"label,pixel0,pixel1,pixel2,pixel3\n1,0,0,x,0\n", "text/csv")
    at = at.run()
    assert not at.exception
    stored = at.text_input(key="cfg.dataset_path").value
    assert (tmp_path / "mlruns" / "uploads") in Path(stored).parents  # the form holds where the server keeps it
    errors = [alert_text(error) for error in at.error if "is not a number" in alert_text(error)]
    assert errors == ["train.csv: row 1, column 4 (pixel2) is not a number."]
    assert not data_loaded(at) and launch_button(at).disabled
