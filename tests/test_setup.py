"""The set-up's choice of accelerator: `scripts/run_app.sh --plan` with a stand-in nvidia-smi.

The scripts run on a copy of the scripts and requirements files, with a PATH that holds only the
tools they use (and the stand-in, where a test puts one), so a real nvidia-smi on this machine
changes nothing and nothing is installed.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("bash", "basename", "cat", "cut", "dirname", "grep", "sed", "sha256sum")
LISTS_A_GPU = "echo 'GPU 0: NVIDIA H200 (UUID: GPU-5f1c2a7e-0000-0000-0000-000000000000)'"
NO_DRIVER = "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"; exit 9"
NO_DEVICES = "echo 'No devices were found'; exit 6"


@pytest.fixture()
def repo(tmp_path):
    """A copy of what the set-up reads: scripts, requirements files, pyproject.toml."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    for path in [*ROOT.glob("requirements*.txt"), ROOT / "pyproject.toml"]:
        shutil.copy(path, copy)
    return copy


@pytest.fixture()
def bin_dir(tmp_path):
    """A PATH folder with the scripts' tools and no nvidia-smi."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    return folder


def nvidia_smi(bin_dir: Path, body: str) -> None:
    """Put a stand-in nvidia-smi on the PATH that runs `body`."""
    script = bin_dir / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def run_plan(repo: Path, bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/run_app.sh", "--plan"], cwd=repo, env={"PATH": str(bin_dir), **env},
                          capture_output=True, text=True, timeout=30)


def plan(repo: Path, bin_dir: Path, **env: str) -> dict[str, str]:
    """What run_app.sh would install and run on, as {"accelerator": ..., "requirements": ..., ...}."""
    done = run_plan(repo, bin_dir, **env)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def test_a_listed_gpu_gets_jax_with_cuda_and_the_jax_backend(repo, bin_dir):
    nvidia_smi(bin_dir, LISTS_A_GPU)
    chosen = plan(repo, bin_dir)
    assert (chosen["accelerator"], chosen["requirements"], chosen["KERAS_BACKEND"]) == (
        "gpu", "requirements-gpu.txt", "jax")


def test_a_backend_the_user_set_is_kept_on_a_gpu(repo, bin_dir):
    nvidia_smi(bin_dir, LISTS_A_GPU)
    assert plan(repo, bin_dir, KERAS_BACKEND="torch")["KERAS_BACKEND"] == "torch"


@pytest.mark.parametrize("body", [NO_DRIVER, NO_DEVICES, "exit 0"], ids=["no-driver", "no-devices", "empty-list"])
def test_an_nvidia_smi_that_fails_or_lists_no_gpu_gets_todays_cpu_install(repo, bin_dir, body):
    nvidia_smi(bin_dir, body)
    chosen = plan(repo, bin_dir)
    assert (chosen["accelerator"], chosen["requirements"], chosen["KERAS_BACKEND"]) == ("cpu", "requirements.txt", "")


def test_no_nvidia_smi_at_all_gets_the_cpu_install(repo, bin_dir):
    chosen = plan(repo, bin_dir)
    assert (chosen["accelerator"], chosen["requirements"]) == ("cpu", "requirements.txt")


@pytest.mark.parametrize("forced, gpu_listed, expected", [
    ("cpu", True, ("cpu", "requirements.txt")),
    ("gpu", False, ("gpu", "requirements-gpu.txt")),
    ("auto", True, ("gpu", "requirements-gpu.txt")),
    ("auto", False, ("cpu", "requirements.txt")),
    ("", True, ("gpu", "requirements-gpu.txt")),  # set but empty counts as auto
])
def test_cnnkit_accelerator_forces_either_or_detects(repo, bin_dir, forced, gpu_listed, expected):
    if gpu_listed:
        nvidia_smi(bin_dir, LISTS_A_GPU)
    chosen = plan(repo, bin_dir, CNNKIT_ACCELERATOR=forced)
    assert (chosen["accelerator"], chosen["requirements"]) == expected


def test_any_other_value_is_refused_in_one_line(repo, bin_dir):
    done = run_plan(repo, bin_dir, CNNKIT_ACCELERATOR="cuda")
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr == "CNNKIT_ACCELERATOR must be cpu, gpu or auto, not 'cuda'\n"


def test_switching_accelerator_or_editing_shared_requirements_installs_once_then_skips(repo, bin_dir):
    cpu, gpu = plan(repo, bin_dir, CNNKIT_ACCELERATOR="cpu"), plan(repo, bin_dir, CNNKIT_ACCELERATOR="gpu")
    assert cpu["stamp"] != gpu["stamp"]
    assert cpu["install"] == gpu["install"] == "yes"
    (repo / ".venv").mkdir()
    (repo / cpu["stamp"]).touch()  # what a finished CPU install leaves
    assert plan(repo, bin_dir, CNNKIT_ACCELERATOR="cpu")["install"] == "no"
    assert plan(repo, bin_dir, CNNKIT_ACCELERATOR="gpu")["install"] == "yes"

    with open(repo / "requirements-base.txt", "a") as base:  # pulled in by requirements.txt with -r
        base.write("rich==15.0.0\n")
    edited = plan(repo, bin_dir, CNNKIT_ACCELERATOR="cpu")
    assert edited["stamp"] != cpu["stamp"] and edited["install"] == "yes"


def pins(requirements: str) -> dict[str, str]:
    """{distribution (extras dropped): version} of one requirements file's own `name==version` lines."""
    lines = (ROOT / requirements).read_text().splitlines()
    found = (re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s#]+)", line) for line in lines)
    return {match[1]: match[2] for match in found if match}


def test_the_gpu_install_has_cuda_jax_at_the_release_the_tests_run_not_tensorflow():
    gpu_lines = (ROOT / "requirements-gpu.txt").read_text()
    assert re.search(r"^jax\[cuda1[23]\]==", gpu_lines, re.MULTILINE)
    assert pins("requirements-gpu.txt")["jax"] == pins("requirements-dev.txt")["jax"]
    assert "tensorflow" not in gpu_lines and "tensorflow-cpu" in pins("requirements.txt")


HIDE_TENSORFLOW_THEN_IMPORT_CNNKIT = """
import importlib.util, os
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *args: None if name == "tensorflow" else real_find_spec(name, *args)
import cnnkit
print(os.environ.get("KERAS_BACKEND"))
"""


@pytest.mark.parametrize("chosen, expected", [(None, "jax"), ("tensorflow", "tensorflow")])
def test_without_tensorflow_cnnkit_picks_jax_unless_a_backend_was_chosen(chosen, expected):
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    if chosen:
        env["KERAS_BACKEND"] = chosen
    done = subprocess.run([sys.executable, "-c", HIDE_TENSORFLOW_THEN_IMPORT_CNNKIT], env=env, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_the_app_listens_on_this_machine_only_with_xsrf_protection_however_it_is_started():
    import tomllib

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1" and server["enableXsrfProtection"] is True


def test_the_menu_offers_light_and_dark_themes_without_the_developer_entries():
    """Streamlit's menu shows its System / Light / Dark picker only when no single theme is fixed:
    `[theme] base = "light"` left viewers with Print and Record screen."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert "base" not in config.get("theme", {})
    assert config["client"]["toolbarMode"] == "viewer"
