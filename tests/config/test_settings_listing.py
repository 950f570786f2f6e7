"""cnnkit.config.settings_listing: every setting as a row for `list settings` (the command itself:
tests/cli/test_cli_help.py)."""

from cnnkit.config.settings import SETTINGS
from cnnkit.config.settings_listing import allowed_text, setting_rows


def test_allowed_values_are_written_as_a_person_types_them():
    assert allowed_text(SETTINGS["batch_norm"]) == "true, false or default"  # an optional checkbox
    assert allowed_text(SETTINGS["test_time_flip"]) == "true or false"
    assert allowed_text(SETTINGS["dataset_path"]) == "any text"
    assert allowed_text(SETTINGS["ema_momentum"]) == "from 0.5 to 0.99999 or 0"  # 0 is its "off"
    assert allowed_text(SETTINGS["optimizer"]) == "sgd, rmsprop, adam or adamw"


def test_a_row_describes_its_setting_with_its_default_the_values_it_takes_and_its_help():
    rows = {row["name"]: row for row in setting_rows()}
    assert list(rows) == list(SETTINGS)
    dropout = rows["dropout_scale"]
    assert dropout["default"] == "default" and dropout["allowed"] == "from 0 to 5 or default"
    assert dropout["description"] == (f"{SETTINGS['dropout_scale'].label}: default default (the architecture's own); "
                                      f"takes from 0 to 5 or default. {dropout['help']}")
    assert rows["dataset_path"]["description"].startswith(f"{SETTINGS['dataset_path'].label}: default (empty); takes "
                                                          "any text. ")
