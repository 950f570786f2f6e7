"""The Ablation page's choices in the address bar, so a reload or a shared link brings them back.

The choices are plain values: `preset` (an ablation preset's name; "" for the visitor's own factors),
`base` ("train" for the Train form's settings, "preset:NAME" or "run:RUN_ID"), `changes` (the base's
`key=value` text), `seeds` (None: the default), `factors` (setting names, in order), `levels` (per
factor: the chosen values of a setting with choices, or the text typed for one without), `name`, and
`shown` (the id of the ablation analysed). `to_query` writes what differs from `EMPTY`; `from_query`
reads back what still makes sense (a factor that is not a setting, a level that is no choice, a
preset that is gone are left out; a factor without levels gets none), as the first state of the page's
controls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cnnkit.config import PRESETS, SETTINGS, settings_from_text, split_list, value_text
from cnnkit.experiments import ABLATION_PRESETS, ablations

TRAIN_BASE = "train"
EMPTY = {"preset": "", "base": TRAIN_BASE, "changes": "", "seeds": None, "factors": [], "levels": {}, "name": "",
         "shown": ""}
LEVELS_PREFIX = "levels."  # levels.flip=none,horizontal
MAX_SEEDS = 20  # as many as the page's Seeds control offers


def to_query(choices: Mapping[str, Any]) -> dict[str, str]:
    """The query parameters for `choices` (keys as in `EMPTY`): only what differs from `EMPTY`, and
    only the levels of chosen factors."""
    query = {}
    for key in ("preset", "base", "changes", "name", "shown"):
        if choices.get(key, EMPTY[key]) != EMPTY[key]:
            query[key] = str(choices[key])
    if choices.get("seeds") is not None:
        query["seeds"] = str(int(choices["seeds"]))
    factors = list(choices.get("factors", ()))
    if factors:
        query["factors"] = ",".join(factors)
    levels = choices.get("levels", {})
    for factor in factors:
        chosen = levels.get(factor)
        text = chosen if isinstance(chosen, str) else ",".join(map(value_text, chosen or ()))
        if text.strip():
            query[LEVELS_PREFIX + factor] = text
    return query


def from_query(query: Mapping[str, str]) -> dict[str, Any]:
    """The choices (keys as in `EMPTY`) that `query` (e.g. `st.query_params.to_dict()`) names and that
    still make sense; what doesn't is left at its `EMPTY` value."""
    choices = {**EMPTY, "factors": [], "levels": {}}
    for key in ("changes", "name", "shown"):
        choices[key] = query.get(key, EMPTY[key])
    if query.get("preset") in ABLATION_PRESETS:
        choices["preset"] = query["preset"]
    base = query.get("base", TRAIN_BASE)
    if base.startswith("run:") or (base.startswith("preset:") and base.removeprefix("preset:") in PRESETS):
        choices["base"] = base
    if query.get("seeds", "").isdigit() and 1 <= int(query["seeds"]) <= MAX_SEEDS:
        choices["seeds"] = int(query["seeds"])
    for factor in dict.fromkeys(split_list(query.get("factors", ""))):
        if factor not in SETTINGS or factor in ablations.NOT_FACTORS:
            continue
        choices["factors"].append(factor)
        text = query.get(LEVELS_PREFIX + factor, "")
        allowed = SETTINGS[factor].allowed()
        levels = _choices_among(factor, text, allowed) if allowed else text
        if levels:  # else the page's first levels
            choices["levels"][factor] = levels
    return choices


def _choices_among(factor: str, text: str, allowed) -> list:
    """The levels in `text` that are among a setting's `allowed` choices, in their types."""
    chosen = []
    for item in split_list(text):
        values, _ = settings_from_text({factor: item})
        if factor in values and values[factor] in allowed and values[factor] not in chosen:
            chosen.append(values[factor])
    return chosen
