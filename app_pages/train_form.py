"""The Train page's form: its values in session state and in the address bar, and each setting's
control as cnnkit/config/settings.py declares it, with its problem right under it."""

import streamlit as st

from cnnkit.config import TrainConfig, example_id_list, field_names, is_optional, relabel_lines, settings_from_text
from cnnkit.config import SETTINGS, problem_counts, significant
from cnnkit.datasets import DATASETS
from cnnkit.explorer import plain_text, train_plan
from cnnkit.models import PREFILTER_DESCRIPTIONS, get_architecture

DEFAULTS = TrainConfig().to_dict()
DEFAULT_CHOICE = "default"  # the picker option for None (the architecture's own); a picker can't show None
DEFAULT_LABEL = "architecture default"  # what the architecture's defaults are, the caption under its picker says
WIDGETS = {"select": st.selectbox, "radio": st.radio, "slider": st.slider, "number": st.number_input,
           "checkbox": st.checkbox, "text": st.text_input, "ids": st.text_area,
           "pairs": st.text_area}
LIST_NOTES = {  # the count under a text area of examples, from the form's values
    "ids": lambda values: train_plan.excluded_note(values["exclude_examples"]),
    "pairs": lambda values: train_plan.relabelled_note(values["relabel_examples"], values["exclude_examples"]),
}
JOB_PARAM = "job"  # query parameter: the job launched or chosen with its Watch button, watched after a reload too
CHOICE_LABELS = {
    "dataset": lambda name: f"{name} — {DATASETS[name].description}",
    "arch": lambda name: f"{name} (seed {get_architecture(name).seed})",
    # One label for the default whatever the architecture: the browser sends a picker's label back, and
    # one naming the previous net's default ("… (off)") is no option of a net whose default is on.
    "activation": lambda v: DEFAULT_LABEL if v == DEFAULT_CHOICE else v,
    "batch_norm": lambda v: DEFAULT_LABEL if v == DEFAULT_CHOICE else ("on" if v else "off"),
    "prefilter": lambda v: f"{v}: {PREFILTER_DESCRIPTIONS[v]}",
}
# The launch bar stays in view while the form scrolls. A tab's problems are marked after its label
# by CSS: a label that changes sends the reader back to the first tab, and stateful tabs (which could
# keep it open) would rerun the whole page on every switch.
# Its background is the theme's own (Canvas follows the app's light or dark colour scheme); when narrow,
# its parts wrap onto a second line rather than cut the buttons' labels to "La…".
BAR_STYLE = """div[data-testid="stLayoutWrapper"]:has(> div.st-key-launch_bar) {position: sticky; top: 3.75rem;
  z-index: 990; background: Canvas; border-bottom: 1px solid rgba(128, 128, 128, 0.3); padding-bottom: 0.5rem;}
.st-key-launch_bar [data-testid="stHorizontalBlock"] {flex-wrap: wrap;}
.st-key-launch_bar [data-testid="stColumn"] {min-width: 12rem;}
.st-key-launch_bar [data-testid="stColumn"]:has(button) {min-width: max-content;}"""
TAB_MARK_STYLE = """.st-key-train_tabs [data-testid="stTab"][data-key="{index}"] p::after {{content: " ({text})";
  color: #d33; font-weight: 600;}}"""


def key(field: str) -> str:
    return f"cfg.{field}"


def to_widget(field: str, value):
    if SETTINGS[field].control in LIST_NOTES:  # a text area: a line each
        return "\n".join(value)
    return DEFAULT_CHOICE if value is None and SETTINGS[field].choices else value


def from_widget(field: str, value):
    if SETTINGS[field].control in LIST_NOTES:
        parse = example_id_list if SETTINGS[field].control == "ids" else relabel_lines
        return parse(value) if isinstance(value, str) else tuple(value)
    return None if value == DEFAULT_CHOICE and is_optional(field) else value


def load_form(values: dict) -> None:
    """Put a config's values into the form (a preset, a run to relaunch, the address bar's settings)."""
    for field in field_names():
        st.session_state[key(field)] = to_widget(field, values.get(field, DEFAULTS[field]))


def use_range(lower: float, upper: float) -> None:
    """The range test's suggestion into the form and the address bar: learning rate → `lower`, peak
    rate → `upper`, to the 2 significant digits its caption shows. Its button is in a fragment, whose
    run draws none of the form's controls: a value set on their keys there would be overwritten by the
    browser's own at the next full run. So the form takes the rates in as it does a relaunched run's
    config, at the start of the full run asked for here."""
    st.session_state["relaunch_config"] = {**form_values(), "learning_rate": significant(lower, 2),
                                           "max_lr": significant(upper, 2)}
    st.rerun()


def form_values() -> dict:
    """The form's settings in config types. A control that is not shown keeps its last value."""
    kept = st.session_state.get("train_form", DEFAULTS)
    return {field: from_widget(field, st.session_state[key(field)]) if key(field) in st.session_state else kept[field]
            for field in field_names()}


def restore_form(manager) -> None:
    """A run to relaunch, else this session's form, else (a reload or a shared link) the address bar's."""
    if "relaunch_config" in st.session_state:
        load_form(st.session_state.pop("relaunch_config"))
    elif "train_form" not in st.session_state:
        from_url, problems = settings_from_text(st.query_params.to_dict())
        load_form(from_url)
        st.session_state["train_form"] = {**DEFAULTS, **from_url}  # a rerun before this one ends keeps edits
        st.session_state["url_problems"] = [str(problem) for problem in problems]
        if manager.find(st.query_params.get(JOB_PARAM, "")) is not None:
            watch(st.query_params[JOB_PARAM])
    kept = st.session_state.get("train_form", DEFAULTS)
    for field in field_names():
        st.session_state.setdefault(key(field), to_widget(field, kept[field]))


def sync_address_bar(values: dict) -> None:
    """Non-default settings and the chosen job into the query string (only when they changed); too many
    excluded ids stay out of it (`train_plan.address_settings`), which a caption under them says."""
    wanted, st.session_state["ids_address_notes"] = train_plan.address_settings(values)
    if st.session_state.get("chosen_job"):
        wanted[JOB_PARAM] = st.session_state["chosen_job"]
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def watch(job_id: str) -> None:
    """Watch this job in the live view, now and after a reload (a job launched or chosen with Watch):
    it goes into the address bar at once, so a Watch button reruns only its panel."""
    st.session_state["watched_job"] = st.session_state["chosen_job"] = st.query_params[JOB_PARAM] = job_id


class Form:
    """The form as this run of the page draws it: its `values`, their `problems`, and whether
    visitors may name a path on the server (`paths_open`)."""

    def __init__(self, values: dict, problems: dict, paths_open: bool):
        self.values, self.problems, self.paths_open = values, problems, paths_open

    def is_shown(self, field: str) -> bool:
        setting = SETTINGS[field]
        return setting.is_used(self.values) or bool(setting.unused_note)

    def control(self, field: str) -> None:
        """A setting's control as cnnkit/config/settings.py declares it, with its problem right under it."""
        setting = SETTINGS[field]
        if not self.is_shown(field):
            return
        used, current = setting.is_used(self.values), to_widget(field, self.values[field])
        options = {"help": setting.help if used else f"{setting.help} {setting.unused_note}", "disabled": not used}
        if field == "dataset_path" and not self.paths_open:  # uploads still fill it in
            options.update(disabled=True, help="Off: this app is not served on localhost, so upload the file above.")
        # The current value doubles as the control's default: it changes no widget id (keyed widgets keep
        # theirs), and a control the browser draws afresh after a rerun that cut the previous one short
        # shows the form's value, not the first option or the minimum.
        if setting.control in ("select", "radio"):
            choices = [DEFAULT_CHOICE] * is_optional(field) + list(setting.allowed())
            options.update(options=choices, index=choices.index(current), format_func=CHOICE_LABELS.get(field, str))
            options["horizontal"] = True if setting.control == "radio" else None
        else:
            options["value"] = current
        if setting.control in ("slider", "number"):
            low = setting.low if setting.off is None else min(setting.low, setting.off)
            options.update(min_value=low, max_value=setting.high, step=setting.step, format=setting.number_format)
        WIDGETS[setting.control](setting.form_label, key=key(field),
                                 **{name: value for name, value in options.items() if value is not None or name == "value"})
        if setting.control in LIST_NOTES:
            note = st.session_state.get("ids_address_notes", {}).get(field)
            st.caption(LIST_NOTES[setting.control](self.values) + (f" · {note}" if note else ""))
        if field in self.problems:
            st.error(plain_text.markdown(self.problems[field]))

    def style(self) -> str:
        """The launch bar's CSS and a mark on each tab with problems, e.g. "4 · Optimiser (1 problem)"."""
        marks = [TAB_MARK_STYLE.format(index=index, text=f"{count} problem{'s' * (count > 1)}")
                 for index, count in enumerate(problem_counts(self.problems).values()) if count]
        return "<style>" + "\n".join([BAR_STYLE, *marks]) + "</style>"
