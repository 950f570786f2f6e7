"""cnnkit.config.server_paths: which server paths a visitor may name (`ServerPaths.for_app`, `anywhere`, `check`).

Every entry point's use of it (job manager, worker, command line, pages): tests/config/test_path_confinement.py.
"""

import os

import pytest

from cnnkit.config.server_paths import ServerPaths
from cnnkit.errors import InputError


@pytest.fixture()
def no_path_settings(monkeypatch):
    for variable in ("CNNKIT_ALLOW_SERVER_PATHS", "CNNKIT_DATA_ROOTS", "CNNKIT_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)


# --- Server paths a visitor may name -------------------------------------------------------------


def test_off_the_localhost_only_uploads_are_allowed(tmp_path, no_path_settings):
    uploads = tmp_path / "uploads"
    paths = ServerPaths.for_app(None, uploads)  # Streamlit's default: every address
    assert not paths.open_to_visitors
    assert paths.check(str(uploads / "abc.csv")) == (uploads / "abc.csv").resolve()
    with pytest.raises(InputError, match=r"^Path on this machine: /etc/shadow is not an upload, and paths on this "
                                         r"machine are off .*CNNKIT_ALLOW_SERVER_PATHS=1") as raised:
        paths.check("/etc/shadow")
    assert raised.value.field == "dataset_path"


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1", "::1"])
def test_on_localhost_paths_under_the_data_folders_are_allowed_and_others_refused(tmp_path, monkeypatch,
                                                                                  no_path_settings, address):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    paths = ServerPaths.for_app(address, tmp_path / "uploads")
    assert paths.open_to_visitors
    assert paths.check(str(tmp_path / "data" / "mnist" / "train.csv")).name == "train.csv"
    for outside in ("/etc", "/root", "/etc/shadow", str(tmp_path / "data" / ".." / "elsewhere.csv")):
        with pytest.raises(InputError, match=r"^Path on this machine: .* is outside the folders this app reads from: "
                                             r".*CNNKIT_DATA_ROOTS"):
            paths.check(outside)


def test_the_operator_can_open_paths_on_any_address_and_widen_the_folders(tmp_path, monkeypatch, no_path_settings):
    monkeypatch.setenv("CNNKIT_ALLOW_SERVER_PATHS", "1")
    monkeypatch.setenv("CNNKIT_DATA_ROOTS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    paths = ServerPaths.for_app("0.0.0.0", tmp_path / "uploads")
    assert paths.open_to_visitors
    assert paths.check(str(tmp_path / "b" / "faces.zip")).name == "faces.zip"
    with pytest.raises(InputError, match="is outside the folders"):
        paths.check(str(tmp_path / "c.csv"))


def test_a_symlink_inside_a_data_folder_that_points_outside_is_refused(tmp_path, monkeypatch, no_path_settings):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shadow.csv").symlink_to("/etc/shadow")
    with pytest.raises(InputError, match="is outside the folders"):
        ServerPaths.for_app("localhost", tmp_path / "uploads").check(str(tmp_path / "data" / "shadow.csv"))


def test_a_symlink_loop_or_a_nul_byte_is_an_input_error_under_every_policy(tmp_path, monkeypatch, no_path_settings):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a").symlink_to(tmp_path / "data" / "b")
    (tmp_path / "data" / "b").symlink_to(tmp_path / "data" / "a")
    for paths in (ServerPaths.for_app("localhost", tmp_path / "uploads"), ServerPaths.anywhere()):
        for name in ("a", "b", "a/inside.csv"):
            with pytest.raises(InputError, match=r"^Path on this machine: .* is a loop of symbolic links"):
                paths.check(str(tmp_path / "data" / name))
        with pytest.raises(InputError, match=r"^Path on this machine: .* is not a path this machine can read"):
            paths.check("data\x00.csv")
    with pytest.raises(InputError, match="is not an upload"):  # outside: refused as such, the loop not told
        ServerPaths.for_app(None, tmp_path / "uploads").check(str(tmp_path / "data" / "a"))


# --- Handed to another process, and applied to a config --------------------------------------------


@pytest.mark.parametrize("open_to_visitors", [False, True])
def test_a_policy_survives_its_trip_through_plain_values(tmp_path, no_path_settings, open_to_visitors):
    policy = ServerPaths.for_app("localhost" if open_to_visitors else None, tmp_path / "uploads")
    assert ServerPaths.from_dict(policy.to_dict()) == policy
    assert ServerPaths.from_dict(ServerPaths.anywhere().to_dict()) == ServerPaths.anywhere()


def test_confine_returns_the_config_when_its_path_is_allowed_and_refuses_it_otherwise(tmp_path, no_path_settings):
    from cnnkit.config import TrainConfig

    paths = ServerPaths.for_app(None, tmp_path / "uploads")
    upload = TrainConfig(dataset="csv", dataset_path=str(tmp_path / "uploads" / "train.csv"))
    assert paths.confine(upload) is upload
    assert paths.confine(TrainConfig()) is not None  # no path: nothing to check
    with pytest.raises(InputError, match="is not an upload"):
        paths.confine(TrainConfig(dataset="csv", dataset_path="/etc/shadow"))
