"""Ablation: a grid of factors × levels × seeds launched as one, watched, cancelled and analysed."""

import streamlit as st

from cnnkit.experiments import ablation_analysis, ablations
from cnnkit.explorer import charts, plain_text
from cnnkit.tracking import run_schema
from cnnkit.config import PRESETS, SETTINGS, label, settings_from_text
from cnnkit.errors import InputError
from app_pages.action_button import action_button
from app_pages.common import canceller, job_manager, picked_run, picker_runs, remember_choices, run_store, visitor

POLL_SECONDS = 2.0
OWN = "Your own factors"


@st.cache_resource
def launches() -> dict:
    """ablation id -> AblationLaunch, for this server process: ablations outlive reruns and tabs."""
    return {}


def base_values() -> dict:
    """The ablation's base before its changes: the Train form's settings, a preset's or a finished run's."""
    offered = picker_runs("ablation.base", [picked_run("ablation.base")], at_least=0).labels
    finished = remember_choices("ablation.base", {f"Run: {label}": run_id for run_id, label in offered.items()})
    sources = ["The Train form's settings", *(f"Preset: {name}" for name in PRESETS), *finished]
    source = st.selectbox("Base settings", sources, key="ablation.base",
                          help="The config every run starts from; the factors below change it cell by cell.")
    if source in finished:
        return store.config_of_run(finished[source]).to_dict()
    if source.startswith("Preset: "):
        return PRESETS[source.removeprefix("Preset: ")].settings
    return st.session_state.get("train_form") or settings_from_text(st.query_params.to_dict())[0]


def define() -> ablations.Ablation:
    preset = st.selectbox("Ablation", [OWN, *ablations.ABLATION_PRESETS], key="ablation.preset",
                          format_func=lambda name: name if name == OWN else f"{name}: {ablations.ABLATION_PRESETS[name][0]}")
    values = base_values() if preset == OWN else None
    changes = st.text_input("Change in the base (key=value, comma-separated)", key="ablation.changes",
                            placeholder="e.g. epochs=1, train_limit=200")
    seeds = int(st.number_input("Seeds", 1, 20, ablations.preset_ablation(preset).seeds if preset != OWN else 2,
                                key=f"ablation.seeds.{preset}", help="Runs per cell; seeds count up from the base's seed."))
    if preset != OWN:
        return ablations.preset_ablation(preset, seeds, **ablations.parse_changes(changes))
    chosen = st.multiselect("Factors", [name for name in SETTINGS if name not in ablations.NOT_FACTORS], format_func=label,
                            key="ablation.factors")
    levels = {}
    for name in chosen:
        allowed = SETTINGS[name].allowed()
        levels[name] = (st.multiselect(f"Levels of {label(name)}", allowed, default=allowed[:2], key=f"ablation.levels.{name}")
                        if allowed else st.text_input(f"Levels of {label(name)} (comma-separated)", key=f"ablation.levels.{name}"))
    name = st.text_input("Ablation name", key="ablation.name")
    return ablations.ablation_of_form(name, ablations.base_config(values, changes), levels, seeds)  # every widget drawn first


def progress_panel(polling: bool) -> None:
    launch = launches().get(st.session_state.get("ablation.launched", ""))
    if launch is None:
        return
    progress = launch.progress()
    if polling and not progress.active:
        st.rerun()  # the whole page: the analysis below gets the last runs and polling stops
    st.progress(progress.ended / progress.total, text=f"{plain_text.markdown(launch.ablation.name)}: {progress.describe()}")
    if launch.cancelled:
        st.warning("The ablation was cancelled: the runs it had not finished were stopped.")
    if launch.error:
        st.error(f"The rest of the ablation could not be queued: {plain_text.markdown(launch.error)}")
    if progress.active:
        st.button("Cancel the ablation", key="ablation.cancel", on_click=launch.cancel, kwargs={"visitor": canceller()})


def analysis(ablation_id: str) -> None:
    runs = store.ablation_runs(ablation_id)
    metric = st.selectbox("Result", run_schema.RESULT_METRICS, index=run_schema.RESULT_METRICS.index(run_schema.TEST_ACCURACY),
                          format_func=lambda name: charts.RESULT_METRICS.get(name, (name.replace("_", " "),))[0],
                          key="ablation.metric")
    if runs[metric].notna().sum() == 0:
        st.info("No run of this ablation has finished yet.")
        return
    shown = {column: st.column_config.NumberColumn(format="percent" if "accuracy" in metric else "%.4f")
             for column in ("effect", "low", "high", "mean", "std")}
    effects = ablation_analysis.main_effects(runs, metric)
    st.subheader("Effects")
    st.plotly_chart(charts.effects_chart(effects.assign(factor=effects["factor"].map(label)), metric), width="stretch")
    st.dataframe(effects.assign(factor=effects["factor"].map(label)), hide_index=True, width="stretch", column_config=shown)
    st.subheader("Cells (mean ± std over seeds)")
    cells = ablation_analysis.cell_summary(runs, metric)
    st.dataframe(cells.rename(columns=label), hide_index=True, width="stretch", column_config=shown)
    curve = st.selectbox("Curve", run_schema.EPOCH_CURVES, index=3, key="ablation.curve")
    names = {row.run_id: ablations.describe_cell(row.cell) for row in runs.itertuples()}
    bands = ablation_analysis.curve_bands(store.histories(list(names)), names, curve)
    st.plotly_chart(charts.band_curves(bands, curve), width="stretch")


store = run_store()
st.title("Ablation")
st.caption("Every combination of the factors' levels, each trained with several seeds, so an effect "
           "can be told from noise. Runs queue on the Train page's job manager.")
with st.expander("Define an ablation", expanded="ablation.launched" not in st.session_state):
    try:
        ablation = define()
        st.caption(f"{ablation.size} runs: {ablation.size // ablation.seeds} cells × {ablation.seeds} seeds.")
    except InputError as error:
        st.error(plain_text.markdown(error))
        ablation = None
    if action_button(st, "Launch the ablation", "ablation.launch", type="primary", disabled=ablation is None):
        try:
            launches()[ablation.ablation_id] = ablations.AblationLaunch(ablation, job_manager(), visitor=visitor())
            st.session_state["ablation.launched"] = st.session_state["ablation.shown"] = ablation.ablation_id
        except InputError as error:
            st.error(plain_text.markdown(error))
launched = launches().get(st.session_state.get("ablation.launched", ""))
polling = bool(launched and launched.progress().active)
st.fragment(progress_panel, run_every=POLL_SECONDS if polling else None)(polling=polling)
known = store.ablations()
if known.empty:
    st.stop()
names = {row.ablation_id: f"{row.ablation} · {row.ablation_id[:6]} · {row.runs} of {row.size} runs"
         for row in known.itertuples()}
shown = st.session_state.get("ablation.shown")
chosen = st.selectbox("Ablation to analyse", list(names), format_func=names.get, key="ablation.analysed",
                      index=list(names).index(shown) if shown in names else 0)
analysis(chosen)
