"""Data atlas: a run's training examples on the data map (dataset cartography), a class filter, and the
images of the points selected on it or of a region, with their given label and prediction."""

import numpy as np
import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import atlas_view, charts, label_issues, plain_text
from cnnkit.stats import cartography
from cnnkit.tracking import run_schema
from app_pages.common import cached_test_split, picker_runs, run_store

store = run_store()
st.title("Data atlas")
st.caption("Each training example placed by how confidently (mean probability of its label) and how stably "
           "(its spread across epochs) the run learnt it, after Swayamdipta et al. 2020, “Dataset Cartography”. "
           f"Ambiguous: variability at least {cartography.AMBIGUOUS_VARIABILITY:g}; otherwise easy-to-learn when "
           f"confidence is at least {cartography.EASY_CONFIDENCE:g}, else hard-to-learn.")

preselected = st.session_state.get("atlas_run")  # a run opened from the Runs or Compare page
labels = picker_runs("atlas.run", [st.session_state.get("atlas.run"), preselected]).labels
run_id = st.selectbox("Run", list(labels), index=list(labels).index(preselected) if preselected in labels else 0,
                      format_func=labels.get, key="atlas.run")


@st.cache_data(max_entries=8, show_spinner="Loading the run's training dynamics…")
def cached_atlas(run_id: str) -> atlas_view.RunAtlas:
    """A finished run's dynamics never change: read once per run."""
    return atlas_view.run_atlas(store, run_id)


@st.cache_data(max_entries=32, show_spinner=False)
def class_names(run_id: str) -> list[str]:
    return store.load_json_artifact(run_id, run_schema.CLASS_NAMES)


@st.cache_data(ttl=30, show_spinner=False)
def finished_audits(run_id: str) -> dict[str, str]:
    """The label audits of the run's settings whose every fold finished: id -> name (read again every 30 s)."""
    audits = label_issues.audits_of(store, store.config_of_run(run_id))
    return {row.label_audit_id: f"{row.label_audit} · {row.label_audit_id[:6]} · {row.folds} folds"
            for row in audits.itertuples() if row.finished == row.folds}


@st.cache_data(max_entries=8, show_spinner="Ranking the audit's suspects…")
def audit_suspects(audit_id: str) -> np.ndarray:
    """A complete audit's suspects' ids, the most suspicious first."""
    return label_issues.complete_audit_issues(store, audit_id)[0]["id"].to_numpy(dtype=str)


def audit_flags(run_id: str, mapped) -> np.ndarray | None:
    """The picked audit's suspects as booleans over the map's examples; None without one."""
    try:
        audits = finished_audits(run_id)
    except InputError as error:  # the run's settings can't be read: no audit of them to find
        st.info(plain_text.markdown(error))
        return None
    if not audits:
        return None
    audit_id = st.selectbox("Mark a label audit's suspects", [None, *audits], format_func=lambda key: audits.get(
        key, "none"), key=f"atlas.audit.{run_id}", help="Inspect's Label issues (Training split) starts one; its "
                                                          "suspects are drawn larger, ringed in black.")
    if audit_id is None:
        return None
    try:
        return atlas_view.flagged(mapped, audit_suspects(audit_id))
    except InputError as error:
        st.warning(plain_text.markdown(error))
        return None


atlas = cached_atlas(run_id)
if atlas.data_map is None:
    st.info(atlas.note)
    st.stop()
mapped, names = atlas.data_map, class_names(run_id)
st.caption(atlas.note)
classes = st.multiselect("Classes", range(len(names)), format_func=names.__getitem__, key=f"atlas.classes.{run_id}",
                         placeholder="all classes")
shown = mapped.chosen(classes=classes or None)
suspects = audit_flags(run_id, mapped)
counts = {region: int(np.sum(mapped.region[shown] == region)) for region in cartography.REGIONS}
for column, (region, count) in zip(st.columns(len(counts)), counts.items()):
    column.metric(region, f"{count:,}", help=f"{count / max(len(shown), 1):.1%} of the examples shown")
event = st.plotly_chart(
    charts.data_map_scatter(mapped.confidence[shown], mapped.variability[shown], mapped.correctness[shown],
                            title=f"Data map · {len(shown):,} examples",
                            marked=None if suspects is None else suspects[shown]),
    width="stretch", on_select="rerun", selection_mode=("box", "lasso"), key=f"atlas.map.{run_id}.{classes}")
selected = [point["point_index"] for point in ((event or {}).get("selection") or {}).get("points") or []]

SELECTION, SUSPECTS = "the points selected", "the audit's suspects"
sources = [SELECTION, *cartography.REGIONS, *[SUSPECTS] * (suspects is not None)]
source = st.segmented_control("Show the images of", sources, default=SELECTION, key=f"atlas.source.{run_id}")
source = source if source in sources else SELECTION
if source == SELECTION and not selected:
    st.caption("Drag a box or a lasso on the map (its tools are at the chart's top right) to see those examples, "
               "or pick a region.")
    st.stop()
positions = atlas_view.picked(mapped, shown, selected, region=source if source in cartography.REGIONS else None,
                              flagged=suspects if source == SUSPECTS else None)
st.markdown(f"**{len(positions):,}** examples, the least confident first"
            + (f"; the first {atlas_view.MAX_SHOWN} shown" if len(positions) > atlas_view.MAX_SHOWN else "") + ".")
if not len(positions):
    st.stop()
if st.button(f"Train again without these {len(positions):,} examples", icon=":material/replay:",
             help="Open the Train page with this run's settings and these examples in Exclude examples (added to any "
                  "it already left out): validation and test stay the run's, so Compare pairs the two runs."):
    try:
        st.session_state["relaunch_config"] = atlas_view.without_examples(store, run_id, mapped.ids[positions])
        st.switch_page("app_pages/train.py")
    except InputError as error:
        st.error(f"This run's settings can't be loaded: {plain_text.markdown(error)}")
first = positions[:atlas_view.MAX_SHOWN]
table = atlas_view.examples_table(mapped, first, names)
try:
    images = atlas_view.images_of(mapped, first, cached_test_split(run_id))
except (InputError, KeyError) as error:
    st.warning(f"The run's training images can't be shown: {plain_text.markdown(error)}")
else:
    titles = [f"{row.label}→{row.predicted}" for row in table.itertuples()]
    colors = [None if row.label == row.predicted else charts.WRONG for row in table.itertuples()]
    st.plotly_chart(charts.image_grid(images, titles, columns=10, title="given label → predicted after the last epoch",
                                      title_colors=colors), width="stretch")
st.dataframe(table, hide_index=True, width="stretch", column_config={
    name: st.column_config.NumberColumn(name, format="%.3f") for name in ("confidence", "variability")} | {
    "correctness": st.column_config.NumberColumn("correctness", format="percent")})
