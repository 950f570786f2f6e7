"""The Train page's Search section: ranges over the form's settings, an Optuna search launched on
the job manager, its progress, trials and figures, and the best trial back into the form.
All of it is `cnnkit.experiments.search`; this module only lays it out."""

import pandas as pd
import streamlit as st

from app_pages import common
from app_pages.action_button import action_button
from app_pages.guard import guarded
from cnnkit.experiments import search, search_figures
from cnnkit.explorer import charts, plain_text
from cnnkit.errors import InputError
from cnnkit.config import SETTINGS, label

POLL_SECONDS = 1.0
NO_SETTINGS_YET = "Pick one or more settings to vary; each then gets its range of values to try."
FIGURES = {"history": "Optimisation history", "importances": "Parameter importances", "parallel": "Parallel coordinates"}


@st.cache_resource
def _searches(_jobs, tracking_uri: str) -> search.Searches:
    return search.Searches(_jobs)


def searches() -> search.Searches:
    """One `Searches` per server process and store: searches outlive reruns, like jobs."""
    jobs = common.job_manager()
    return _searches(jobs, jobs.tracking_uri)


def default_range(name: str, value) -> dict:
    """Starting values of a setting's range inputs around the form's value, within its declared bounds."""
    if search.takes_choices(name):
        choices = search.choices_of(name)
        return {"choices": list(choices if len(choices) <= 3 else choices[:2])}
    setting = SETTINGS[name]
    if isinstance(setting.low, int):
        value = value or 0
        return {"low": max(setting.low, value // 2), "high": int(min(setting.high, max(2 * value, setting.low + 10)))}
    if value:
        return {"low": max(setting.low, value / 10), "high": min(setting.high, value * 10), "log": setting.low >= 0}
    return {"low": float(setting.low), "high": float(setting.high), "log": False}


def range_inputs(name: str, value) -> search.SearchRange:
    """One setting's range controls; the checked range (InputError naming the setting when it isn't one)."""
    start = default_range(name, value)
    if "choices" in start:
        picked = st.multiselect(f"{label(name)}: values to try", search.choices_of(name), default=start["choices"],
                                key=f"search.{name}.choices", format_func=str)
        return search.make_range(name, choices=[str(choice) for choice in picked])
    low_column, high_column, log_column = st.columns([2, 2, 1], vertical_alignment="bottom")
    number_format = "%d" if isinstance(start["low"], int) else (SETTINGS[name].number_format or "%g")
    low = low_column.number_input(f"{label(name)}: lowest", value=start["low"], format=number_format,
                                  key=f"search.{name}.low")
    high = high_column.number_input(f"{label(name)}: highest", value=start["high"], format=number_format,
                                    key=f"search.{name}.high")
    log = log_column.checkbox("log", value=start.get("log", False), key=f"search.{name}.log",
                              help="Sample evenly on a log scale (for rates).")
    return search.make_range(name, low, high, log)


def launch(spec: search.SearchSpec) -> None:
    try:
        st.session_state["search.shown"] = searches().start(spec, visitor=common.visitor())
    except InputError as error:
        st.toast(f"Not launched: {plain_text.markdown(error)}")


@st.cache_resource(max_entries=8, show_spinner=False)
def cached_figures(name: str, ended: int):
    """Optuna's figures and the parallel coordinates after `ended` trials, built once per trial ended,
    not at every poll (importances fit a forest)."""
    spec = searches().spec(name)
    parallel = charts.search_parallel_coordinates(
        searches().trials(name), {each.setting for each in spec.ranges if each.log}, search.METRIC_LABELS[spec.metric])
    return search_figures.figures(searches().study(name)), parallel


def progress_panel(polling: bool) -> None:
    name = st.session_state["search.shown"]
    progress = searches().progress(name)
    if polling and not progress.is_active:
        st.rerun()  # the whole page, so polling stops
    st.progress(progress.ended / progress.total, text=f"{plain_text.markdown(name)}: {progress.describe()}")
    if searches().is_live(name) and progress.is_active:
        st.button("Cancel search", key="search.cancel", on_click=searches().cancel, args=(name,))
    trials = searches().trials(name)
    if trials:
        st.dataframe(pd.DataFrame([{"trial": t.number, "state": t.state, "value": t.value,
                                    **{label(setting): value for setting, value in t.params.items()}, "note": t.note or "",
                                    "run": t.run_id} for t in trials]), hide_index=True, width="stretch")
    if progress.best_trial is not None:
        st.caption(f"Best: trial {progress.best_trial}, {progress.best_value:.4f}")
        if st.button("Load best trial into the form", key="search.load_best"):
            st.session_state["relaunch_config"] = searches().best_config(name).to_dict()
            st.rerun()  # the whole page: the Train form reads the config as it does a relaunched run
    figures, parallel_figure = cached_figures(name, progress.ended)
    history, importances, parallel = st.tabs(list(FIGURES.values()))
    parallel.plotly_chart(parallel_figure, width="stretch", key="search.figure.parallel")
    for tab, key in ((history, "history"), (importances, "importances")):
        with tab:
            if getattr(figures, key) is None:
                st.info(figures.notes[key])
            else:
                st.plotly_chart(getattr(figures, key), width="stretch", key=f"search.figure.{key}")


def search_section(base, values: dict) -> None:
    """The section under the Train form. `base()` builds the form's config (None while it has problems);
    `values` are the form's settings, the ranges' starting points."""
    st.subheader("Search")
    st.caption("Let Optuna try ranges of settings over the form above: each trial is a run, trials that lag "
               "behind after an epoch are pruned, and the best one can be loaded into the form.")
    names = st.multiselect(search.RANGES_LABEL, search.searchable_settings(), format_func=label, key="search.settings")
    if not names:  # where every visit starts: what to do, not a mistake
        st.caption(f":material/info: {NO_SETTINGS_YET}")
    ranges, problem = [], None
    for name in names:
        try:
            ranges.append(range_inputs(name, values[name]))
        except InputError as error:
            st.error(plain_text.markdown(error))
            problem = error
    jobs = common.job_manager()
    trials_column, parallel_column, metric_column, launch_column = st.columns(4, vertical_alignment="bottom")
    trials = trials_column.number_input(search.TRIALS_LABEL, 1, search.MAX_TRIALS, 8, key="search.trials")
    parallel = parallel_column.number_input(search.PARALLEL_LABEL, 1, jobs.slots(), 1, key="search.parallel")
    metric = metric_column.selectbox(search.METRIC_LABEL, list(search.METRICS), key="search.metric",
                                     format_func=search.METRIC_LABELS.get)
    spec = None
    if names and base is not None and problem is None:
        try:
            spec = search.SearchSpec(base(), tuple(ranges), int(trials), metric, int(parallel), values["seed"])
            spec.check(jobs.slots())
        except InputError as error:
            st.error(plain_text.markdown(error))
            spec = None
    action_button(launch_column, "Launch search", "search.launch", on_click=lambda: launch(spec), type="primary",
                  disabled=spec is None, width="stretch",
                  help="Fix the form's problems first." if base is None else None if names else NO_SETTINGS_YET)
    if spec is not None:
        st.caption(f"Launch trains {spec.describe()}.")
    known = searches().names()
    if not known:
        return
    if st.session_state.get("search.shown") not in known:
        st.session_state["search.shown"] = known[0]
    st.selectbox("Search to show", known, key="search.shown")
    active = searches().progress(st.session_state["search.shown"]).is_active
    st.fragment(guarded("the Train page's search panel")(progress_panel), run_every=POLL_SECONDS if active else None)(
        polling=active)
