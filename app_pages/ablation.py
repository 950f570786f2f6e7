"""Ablation: a grid of factors × levels × seeds launched as one, watched, cancelled and analysed. Its
choices are kept in the address bar too (`explorer.ablation_address`): a reload or a link brings them back."""

import streamlit as st

from cnnkit.experiments import ablation_analysis, ablations
from cnnkit.explorer import ablation_address, charts, plain_text
from cnnkit.tracking import run_schema
from cnnkit.config import PRESETS, SETTINGS, TrainConfig, assignments_from_text, label
from cnnkit.errors import InputError
from app_pages.action_button import action_button
from app_pages.common import canceller, job_manager, picked_run, picker_runs, remember_choices, run_store, visitor

POLL_SECONDS = 2.0
OWN = "Your own factors"
TRAIN_FORM = "The Train form's settings"


@st.cache_resource
def launches() -> dict:
    """ablation id -> AblationLaunch, for this server process: ablations outlive reruns and tabs."""
    return {}


def restore_choices() -> None:
    """The controls' first state when the page is drawn afresh: the address bar's choices (a reload, a
    shared link), else the ones this session left the page with."""
    if "ablation.preset" in st.session_state:  # drawn in the last run: the controls hold the choices
        return
    query = st.query_params.to_dict() or st.session_state.get("ablation.query", {})
    choices = ablation_address.from_query(query)
    preset = choices["preset"] or OWN
    st.session_state.update({"ablation.preset": preset, "ablation.changes": choices["changes"],
                             "ablation.name": choices["name"], "ablation.factors": choices["factors"],
                             **{f"ablation.levels.{name}": levels for name, levels in choices["levels"].items()}})
    if choices["seeds"] is not None:
        st.session_state[f"ablation.seeds.{preset}"] = choices["seeds"]
    if choices["base"].startswith("preset:"):
        st.session_state["ablation.base"] = f"Preset: {choices['base'].removeprefix('preset:')}"
    if choices["base"].startswith("run:"):
        st.session_state["ablation.base_run"] = choices["base"].removeprefix("run:")  # found among the runs below
    else:
        st.session_state.pop("ablation.base_run", None)  # an earlier link's run must not come back later
    if choices["shown"]:
        st.session_state["ablation.shown"] = choices["shown"]


def base_source() -> tuple[str, dict]:
    """The ablation's base before its changes, as the address bar names it ("train", "preset:NAME",
    "run:ID") and as settings: the Train form's settings, a preset's or a finished run's."""
    named = st.session_state.pop("ablation.base_run", None)  # a run the address bar named
    offered = picker_runs("ablation.base", [picked_run("ablation.base"), named], at_least=0).labels
    finished = remember_choices("ablation.base", {f"Run: {label}": run_id for run_id, label in offered.items()})
    if named in offered:
        st.session_state["ablation.base"] = f"Run: {offered[named]}"
    sources = [TRAIN_FORM, *(f"Preset: {name}" for name in PRESETS), *finished]
    source = st.selectbox("Base settings", sources, key="ablation.base",
                          help="The config every run starts from; the factors below change it cell by cell.")
    if source in finished:
        return f"run:{finished[source]}", store.config_of_run(finished[source]).to_dict()
    if source.startswith("Preset: "):
        return f"preset:{source.removeprefix('Preset: ')}", PRESETS[source.removeprefix("Preset: ")].settings
    return ablation_address.TRAIN_BASE, st.session_state.get("train_form") or TrainConfig().to_dict()


def form() -> tuple[dict, dict | None]:
    """The form's controls: the choices (keys as in `ablation_address.EMPTY`, seeds as chosen) and the
    base's settings (None for a preset ablation, which has its own)."""
    preset = st.selectbox("Ablation", [OWN, *ablations.ABLATION_PRESETS], key="ablation.preset",
                          format_func=lambda name: name if name == OWN else f"{name}: {ablations.ABLATION_PRESETS[name][0]}")
    base, values = base_source() if preset == OWN else (ablation_address.TRAIN_BASE, None)
    changes = st.text_input("Change in the base (key=value, separated by commas or spaces)", key="ablation.changes",
                            placeholder="e.g. epochs=1, train_limit=200")
    st.session_state.setdefault(f"ablation.seeds.{preset}", default_seeds(preset))  # restore_choices may have set it
    seeds = int(st.number_input("Seeds", 1, ablation_address.MAX_SEEDS, key=f"ablation.seeds.{preset}",
                                help=f"Runs per cell; seeds count up from the base's seed. An effect gets a 95 % interval "
                                     f"from {ablation_analysis.MIN_SEEDS} seeds; {ablation_analysis.USEFUL_SEEDS} give "
                                     "a useful width."))
    choices = {"preset": "" if preset == OWN else preset, "base": base, "changes": changes, "seeds": seeds,
               "factors": [], "levels": {}, "name": ""}
    if preset == OWN:
        choices["factors"] = st.multiselect("Factors", [name for name in SETTINGS if name not in ablations.NOT_FACTORS],
                                            format_func=label, key="ablation.factors")
        for name in choices["factors"]:
            allowed = SETTINGS[name].allowed()
            choices["levels"][name] = (
                st.multiselect(f"Levels of {label(name)}", allowed, key=levels_key(name, allowed[:2]))
                if allowed else st.text_input(f"Levels of {label(name)} (separated by commas or spaces)",
                                              key=f"ablation.levels.{name}", placeholder="e.g. 0.001, 0.01"))
        choices["name"] = st.text_input("Ablation name", key="ablation.name")
    return choices, values


def levels_key(name: str, first_levels) -> str:
    """The key of a factor's levels control, its first levels chosen unless restore_choices set them."""
    st.session_state.setdefault(f"ablation.levels.{name}", list(first_levels))
    return f"ablation.levels.{name}"


def default_seeds(preset: str) -> int:
    return 2 if preset == OWN else ablations.preset_ablation(preset).seeds


def define(choices: dict, values: dict | None) -> ablations.Ablation | None:
    """The ablation the choices make, None while the form lacks something (said neutrally) or is wrong
    (said in red, naming the control)."""
    try:
        if choices["preset"]:
            changes = assignments_from_text(choices["changes"])
            ablation = ablations.preset_ablation(choices["preset"], choices["seeds"], **changes)
        else:
            base = ablations.base_config(values, choices["changes"])  # what is wrong with the base first
            missing = ablations.missing_choice(choices["levels"])
            if missing:
                st.info(missing)
                return None
            ablation = ablations.ablation_of_form(choices["name"], base, choices["levels"], choices["seeds"])
    except InputError as error:
        st.error(plain_text.markdown(error))
        return None
    st.caption(f"{ablation.size} runs: {ablation.size // ablation.seeds} cells × {ablation.seeds} seeds.")
    return ablation


def sync_address_bar(choices: dict, shown: str = "") -> None:
    """The choices into the address bar (only when they changed), and kept for this session's next visit."""
    default = default_seeds(choices["preset"] or OWN)
    wanted = ablation_address.to_query({**choices, "seeds": None if choices["seeds"] == default else choices["seeds"],
                                        "shown": shown})
    st.session_state["ablation.query"] = wanted
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


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
        own = launch.may_be_cancelled_by(canceller())
        st.button("Cancel the ablation", key="ablation.cancel", on_click=launch.cancel, kwargs={"visitor": canceller()},
                  disabled=not own, help=None if own else "Launched by another visitor: only they can cancel it.")


def analysis(ablation_id: str) -> None:
    runs = store.ablation_runs(ablation_id)
    metric = st.selectbox("Result", run_schema.RESULT_METRICS, index=run_schema.RESULT_METRICS.index(run_schema.TEST_ACCURACY),
                          format_func=lambda name: charts.RESULT_METRICS.get(name, (name.replace("_", " "),))[0],
                          key="ablation.metric")
    if runs[metric].notna().sum() == 0:
        st.info("No run of this ablation has finished yet.")
        return
    effects = ablation_analysis.main_effects(runs, metric).assign(factor=lambda frame: frame["factor"].map(label))
    st.subheader("Effects")
    st.plotly_chart(charts.effects_chart(effects, metric), width="stretch")
    st.dataframe(ablation_analysis.effects_table(effects, metric), hide_index=True, width="stretch")
    st.caption(f"Seed noise: the seed-to-seed std of a level's and its baseline's results, pooled; seeds needed: the "
               f"seeds per cell that would tell the effect from that noise at 80 % power and a 5 % level "
               f"(from {ablation_analysis.MIN_SEEDS} seeds, like the interval).")
    if note := ablation_analysis.noise_note(effects, metric):
        st.info(plain_text.markdown(note))
    st.subheader("Cells (mean, std and range over seeds)")
    cells = ablation_analysis.cells_table(ablation_analysis.cell_summary(runs, metric), metric)
    st.dataframe(cells.rename(columns=label), hide_index=True, width="stretch")
    curve = st.selectbox("Curve", run_schema.EPOCH_CURVES, index=3, key="ablation.curve")
    names = {row.run_id: ablations.describe_cell(row.cell) for row in runs.itertuples()}
    bands = ablation_analysis.curve_bands(store.histories(list(names)), names, curve)
    st.plotly_chart(charts.band_curves(bands, curve), width="stretch")


store = run_store()
st.title("Ablation")
st.caption("Every combination of the factors' levels, each trained with several seeds, so an effect "
           "can be told from noise. Runs queue on the Train page's job manager.")
restore_choices()
with st.expander("Define an ablation", expanded="ablation.launched" not in st.session_state):
    choices, base_settings = form()
    ablation = define(choices, base_settings)
    # the form as launched: the button waits for a change, so a second click can't launch the grid again
    launched_form = st.session_state.get("ablation.launched_form")
    is_launched = launched_form == ablation_address.to_query(choices)
    if action_button(st, "Launch the ablation", "ablation.launch", type="primary", disabled=ablation is None or is_launched):
        try:
            launches()[ablation.ablation_id] = ablations.AblationLaunch(ablation, job_manager(), visitor=visitor())
            st.session_state["ablation.launched"] = st.session_state["ablation.shown"] = ablation.ablation_id
            st.session_state["ablation.launched_form"] = ablation_address.to_query(choices)
            st.rerun()  # the button drawn again, disabled
        except InputError as error:
            st.error(plain_text.markdown(error))
    if is_launched:
        st.caption("Launched: its progress and results are below. Change the form to launch another.")
launched = launches().get(st.session_state.get("ablation.launched", ""))
polling = bool(launched and launched.progress().active)
st.fragment(progress_panel, run_every=POLL_SECONDS if polling else None)(polling=polling)
known = store.ablations()
if known.empty:
    sync_address_bar(choices)
    st.stop()
names = {row.ablation_id: f"{row.ablation} · {row.ablation_id[:6]} · {row.runs} of {row.size} runs"
         for row in known.itertuples()}
shown = st.session_state.get("ablation.shown")
chosen = st.selectbox("Ablation to analyse", list(names), format_func=names.get, key="ablation.analysed",
                      index=list(names).index(shown) if shown in names else 0)
sync_address_bar(choices, chosen)
analysis(chosen)
