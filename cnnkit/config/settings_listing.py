"""`python -m cnnkit list settings`: every setting `--set KEY=VALUE` accepts, as cnnkit/config/settings.py
declares it (label, bounds or choices, help) with `TrainConfig`'s default, written as `--set` reads it."""

from __future__ import annotations

from cnnkit.config.train_config import TrainConfig, is_optional, value_text
from cnnkit.config.settings import SETTINGS, Setting

ARCHITECTURES_OWN = value_text(None)  # what an optional setting takes for "the architecture's own"


def allowed_text(setting: Setting) -> str:
    """What values the setting takes, for a person typing them: "relu, elu or default", "from 8 to 1024 or 0"."""
    if setting.choices:
        values = [value_text(choice) for choice in setting.allowed()]
    elif setting.control == "ids":
        values = ["ids comma-separated (train/1,train/7) or @FILE: one id per line, or a CSV with an id column"]
    elif setting.control == "pairs":
        values = ["@FILE: a CSV with id and new_label (or suggested_label) columns, or id,new_label lines"]
    elif setting.low is None:
        values = ["true or false" if setting.control == "checkbox" else "any text"]
    else:
        low, high = value_text(setting.low), value_text(setting.high)
        values = [f"above {low} up to {high}" if setting.above_low else f"from {low} to {high}", *([value_text(setting.off)] if setting.off is not None else [])]
    values += [ARCHITECTURES_OWN] if is_optional(setting.name) else []
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def setting_rows() -> list[dict[str, str]]:
    """One row per setting, in the declaration's order; its "description" is what `list` prints
    after the name: "<label>: default <value>; takes <allowed values>. <help>"."""
    defaults, rows = TrainConfig().to_dict(), []
    for setting in SETTINGS.values():
        default = value_text(defaults[setting.name])
        own = " (the architecture's own)" if defaults[setting.name] is None else ""
        row = {"name": setting.name, "label": setting.label, "default": default, "allowed": allowed_text(setting),
               "help": f"{setting.help}{f' ({setting.hint})' if setting.hint else ''}"}
        rows.append({**row, "description": f"{setting.label}: default {default or '(empty)'}{own}; takes "
                                           f"{row['allowed']}. {row['help']}"})
    return rows
