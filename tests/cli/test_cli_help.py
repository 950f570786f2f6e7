"""`python -m cnnkit --help` for the command and every sub-command (found in the parser, so a new
one is covered), and `list settings`: every setting `--set` takes, from the one declaration."""

import argparse
import json
import subprocess
import sys

import pytest

from cnnkit.cli import build_parser, config_from_args, main
from cnnkit.config import TrainConfig
from cnnkit.config.settings import SETTINGS


def sub_commands() -> list[str]:
    [commands] = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    return list(commands.choices)


def test_the_sub_commands_are_found_in_the_parser():
    assert {"train", "ablation", "list", "worker"} <= set(sub_commands())


@pytest.mark.parametrize("argv", [[], *([name] for name in sub_commands())], ids=lambda argv: " ".join(argv) or "top")
def test_help_prints_and_exits_0(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    out, err = capsys.readouterr()
    assert exited.value.code == 0 and out.startswith("usage: python -m cnnkit") and not err


def test_help_in_a_real_process_exits_0_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "cnnkit", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "95 % interval" in done.stdout


def test_list_settings_prints_every_declared_setting_with_its_label_default_bounds_and_help(capsys):
    assert main(["list", "settings", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list(SETTINGS)
    by_name = {row["name"]: row for row in rows}
    assert by_name["image_size"]["allowed"] == "from 8 to 1024 or 0"
    assert by_name["learning_rate"]["allowed"] == "above 0 up to 10"
    assert by_name["activation"]["allowed"] == "relu, leaky_relu, elu, gelu or default"
    for name, setting in SETTINGS.items():
        assert by_name[name]["label"] == setting.label and setting.help in by_name[name]["help"]
    assert main(["list", "settings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(SETTINGS)
    assert lines[list(SETTINGS).index("epochs")].split(None, 1)[1] == (
        "Epochs: default 5; takes from 1 to 100000. Passes over the training set.")


def test_every_default_list_settings_prints_is_taken_by_set_as_that_default(capsys):
    main(["list", "settings", "--json"])
    defaults = TrainConfig()
    for row in json.loads(capsys.readouterr().out):
        args = build_parser().parse_args(["train", "--set", f"{row['name']}={row['default']}"])
        assert getattr(config_from_args(args), row["name"]) == getattr(defaults, row["name"]), row
