"""Compare: several runs side by side: curves, settings that differ, results, confusion, mistakes."""

import pandas as pd
import streamlit as st

from cnnkit.experiments import ablation_analysis, time_travel
from cnnkit.explorer import charts, comparison, plain_text, run_pickers, view_address
from cnnkit.tracking import run_schema
from cnnkit.training import forks
from cnnkit.errors import InputError
from app_pages import address_bar
from app_pages.common import (
    FINAL, cached_evaluation, cached_snapshot_epochs, cached_snapshot_probabilities, cached_test_split, epoch_slider,
    kept_key, picker_runs, run_store,
)
from app_pages.atlas_links import atlas_links
from app_pages.compare_confusion import confusion_view
from app_pages.calibration_panel import compare_calibration_view
from app_pages.compare_seeds import seed_groups_view
from app_pages.compare_verdict import verdict_view
from app_pages.corruption_panel import corruption_maps
from app_pages.system_panel import system_section

store = run_store()
st.title("Compare runs")
PAGE_WIDTH_PX = 1000  # about what the wide layout gives the main column; galleries share it
TABS = ["Curves", "Settings", "Results", "Confusion", "Per class", "Mistakes", "Fixed & broken", "Calibration"]
CURVES = {"epoch": run_schema.EPOCH_CURVES, "batch": run_schema.BATCH_METRICS}
SMOOTHING = {"epoch": 1, "batch": 10}  # the default window per granularity
view = address_bar.linked_view("compare", {  # a reload's or a shared link's view
    "runs": view_address.run_ids, "tab": view_address.one_of(TABS), "per": view_address.one_of(CURVES),
    "metric": view_address.name, "smooth": view_address.whole_number(1, 50), "epoch": view_address.epoch,
    "x": view_address.one_of(charts.X_AXES)})
per = view.get("per", st.session_state.get("compare.per.kept", "epoch"))
if view.get("metric") not in CURVES[per]:
    view.pop("metric", None)
for name, key in (("per", "compare.per"), ("metric", f"compare.metric.{per}"), ("smooth", f"compare.smooth.{per}"),
                  ("x", "compare.x_axis")):
    if name in view:
        address_bar.restore(key, view[name])
if "tab" in view:
    st.session_state["compare.tab"] = view["tab"]

linked = st.session_state.get("compare_runs", [])  # runs selected on the Runs page
asked = view.get("runs", [])
offered = picker_runs("compare.runs", [*st.session_state.get("compare.runs", []), *linked, *asked], at_least=2,
                      none_yet="Compare needs at least two finished runs. Launch some on the Train page.")
labels = offered.labels
if asked:
    if found := [run_id for run_id in asked if run_id in labels]:
        st.session_state["compare.runs"] = found
    if note := view_address.gone_note(asked, labels):
        st.caption(plain_text.markdown(note))
preselected = [run_id for run_id in linked if run_id in labels]
chosen = st.multiselect("Runs to compare", list(labels), default=preselected or comparison.default_runs(offered.runs),
                        format_func=labels.get, key="compare.runs", filter_mode=run_pickers.FILTER_MODE,
                        select_all=run_pickers.SELECT_ALL_UP_TO,
                        help="Pick two or more finished runs, or select rows on the Runs page and press Compare.")
if len(chosen) < 2:
    address_bar.show_view("compare", {"runs": chosen}, {})
    st.info("Pick at least two runs.")
    st.stop()

results = store.results_table(chosen)
names = dict(zip(results["run_id"], results["run"]))
atlas_links(names)
snapshots = {run_id: cached_snapshot_epochs(run_id) for run_id in chosen}
all_snapshots = sorted(set().union(*snapshots.values()))
if "epoch" in view and (view["epoch"] is None or view["epoch"] in all_snapshots):
    st.session_state["compare.epoch"] = FINAL if view["epoch"] is None else view["epoch"]
epoch = epoch_slider(all_snapshots, "compare.epoch", whose="these runs")
if epoch is not None and (finals := [names[run_id] for run_id in chosen if epoch not in snapshots[run_id]]):
    st.caption(f"Shown finished, with no snapshot after epoch {epoch}: {plain_text.markdown(', '.join(finals))}.")
# Only the open tab is drawn (a stateful tab set reruns the page when another opens): adding a run then
# reads and draws one tab's data, not every tab's. A tab's picks outlive its closing (`kept_key`).
curves_tab, settings_tab, results_tab, confusion_tab, classes_tab, mistakes_tab, epochs_tab, calibration_tab = st.tabs(
    TABS, key="compare.tab", on_change="rerun")

if curves_tab.open:
    with curves_tab:
        per_column, metric, smoothing = st.columns([1, 1, 2])
        granularity = per_column.radio("Per", list(CURVES), horizontal=True, key=kept_key("compare.per", "epoch"))
        options = CURVES[granularity]
        chosen_metric = metric.selectbox("Metric", options, key=kept_key(f"compare.metric.{granularity}", options[0]))
        window = smoothing.slider("Smoothing (moving average over points)", 1, 50,
                                  key=kept_key(f"compare.smooth.{granularity}", SMOOTHING[granularity]))
        timed = granularity == "epoch" and charts.X_AXES[per_column.radio(
            "x axis", list(charts.X_AXES), horizontal=True, key=kept_key("compare.x_axis", "epochs"))] == "time"
        keys = (*run_schema.EPOCH_CURVES, run_schema.ELAPSED_SECONDS)  # each run's clock, for the time axis
        history = store.histories(chosen, keys, batch=granularity == "batch")
        history["run"] = history["run"].map(names).fillna(history["run"])
        x = run_schema.ELAPSED_SECONDS if timed else "epoch" if granularity == "epoch" else "step"
        lineages, continued = store.lineages(chosen), {}
        if lineages and granularity == "epoch":  # a fork's line continues its parent's, drawn dashed up to the fork
            parents = store.histories(sorted({lineage.parent_run_id for lineage in lineages.values()}), keys)
            history, continued = forks.with_parent_curves(
                history, {run_id: (names[run_id], lineage) for run_id, lineage in lineages.items()}, parents)
        groups = comparison.seed_groups(store.params_diff(chosen))
        if len(groups) < len(chosen) and not timed and not st.toggle("One line per run", key=kept_key("compare.each_seed", False),
                                                       help="Runs that differ only by their seed are drawn as one "
                                                            "mean line with a ± std band; switch on to see each run."):
            in_group = {run: group for group, runs in groups.items() for run in runs}
            bands = ablation_analysis.curve_bands(history, in_group, chosen_metric, x=x, by="run")
            st.plotly_chart(charts.band_curves(bands, chosen_metric, x=x), width="stretch")
        else:
            st.plotly_chart(charts.compare_curves(history, chosen_metric, x=x, smoothing=window,
                                                  log_x=granularity == "batch", continued=continued), width="stretch")
        system_section(store, names)

if settings_tab.open:
    with settings_tab:
        diff = store.params_diff(chosen)
        if diff.empty:
            st.success("These runs used exactly the same settings (only the randomness differs if the seed does).")
        else:
            st.caption("Only the settings that differ between the chosen runs.")
            st.dataframe(diff.style.apply(lambda row: ["background-color: #fff3cd"] * len(row), axis=1),
                         width="stretch")

if results_tab.open:
    with results_tab:
        shown = results.drop(columns=["run_id"]).set_index("run")
        st.dataframe(shown, width="stretch", column_config={
            **{column: st.column_config.NumberColumn(label, format="percent")
               for column, (label, _) in charts.RESULT_METRICS.items()},
            run_schema.TEST_LOSS: st.column_config.NumberColumn("test loss", format="%.4f"),
            "test_images": st.column_config.NumberColumn("test images", format="%d"),
            "wall_s": st.column_config.NumberColumn("wall time (s)", format="%.0f")})
        verdict_view(chosen, names)
        st.plotly_chart(charts.results_bars(results), width="stretch")
        seed_groups_view(results, store.params_diff(chosen))
        corruption_maps(store, names)

evaluation_tabs = ((confusion_tab, "confusion"), (classes_tab, "per_class"), (mistakes_tab, "mistakes"))
evaluations, comparable = {}, None
if any(tab.open for tab, _ in evaluation_tabs):  # only their tabs read the runs' evaluations
    for run_id in chosen:
        try:
            evaluations[run_id] = cached_evaluation(run_id, epoch if epoch in snapshots[run_id] else None)
        except InputError as error:
            st.warning(f"{plain_text.markdown(names[run_id])}: {plain_text.markdown(error)}")
    fingerprints = store.test_fingerprints(list(evaluations))
    comparable = comparison.comparability({plain_text.markdown(names[run_id]): evaluation for run_id, evaluation in evaluations.items()},
                                          test_sets={plain_text.markdown(names[run_id]): fingerprint
                                                     for run_id, fingerprint in fingerprints.items()})


def mistakes_view():
    choices = ["", *next(iter(evaluations.values())).class_names]  # "": any class (None would show "Choose an option")
    left, right, count = st.columns(3)
    true_filter = left.selectbox("True class", choices, format_func=lambda v: v or "any", key=kept_key("compare.true", ""))
    predicted_filter = right.selectbox("Predicted class", choices, format_func=lambda v: v or "any",
                                       key=kept_key("compare.pred", ""))
    limit = count.slider("Images", 10, 100, step=10, key=kept_key("compare.limit", 30))
    st.caption(comparable.images_note())
    shown = comparison.mistake_indices(evaluations, comparable.aligned, true_filter or None, predicted_filter or None, limit)
    columns = st.columns(min(2, len(evaluations)))  # more galleries side by side would make their captions overlap
    for i, (run_id, evaluation) in enumerate(evaluations.items()):
        with columns[i % len(columns)]:
            st.markdown(f"**{plain_text.markdown(names[run_id])}**")
            if len(shown[run_id]) == 0:
                st.caption("No mistakes match the filters.")
                continue
            try:
                split = cached_test_split(run_id)
            except InputError as error:
                st.warning(plain_text.markdown(error))
                continue
            tiles = comparison.gallery(evaluation, shown[run_id], split.y_test)
            st.plotly_chart(charts.gallery(split.x_test[tiles.indices], tiles.captions, columns=5, correct=tiles.correct,
                                           width=PAGE_WIDTH_PX // len(columns)), width="stretch", key=f"gallery-{run_id}")


def fixed_and_broken_view():
    rewound = [run_id for run_id in chosen if len(snapshots[run_id]) >= 2]
    if not rewound:
        st.info("None of these runs kept two snapshots: train with “Snapshot every (epochs)” on to see what each "
                "epoch fixed or broke.")
        return
    run_id = st.selectbox("Run", rewound, format_func=names.get, key=kept_key(f"compare.changes.run.{','.join(rewound)}",
                                                                             rewound[0]))
    epochs = snapshots[run_id]
    ends = (epochs[0], epochs[-1])  # also as `value`: Streamlit makes a range slider only of a pair given there
    earlier, later = st.select_slider("Between epochs", epochs, value=ends,
                                      key=kept_key(f"compare.changes.epochs.{run_id}", ends))
    if earlier == later:
        st.info("Pick two different epochs.")
        return
    try:  # the test images, and the snapshots' probabilities, checked against their checksums
        split = cached_test_split(run_id)
        changes = time_travel.fixed_and_broken(split.y_test, cached_snapshot_probabilities(run_id, earlier),
                                               cached_snapshot_probabilities(run_id, later))
    except InputError as error:
        st.warning(plain_text.markdown(error))
        return
    st.markdown(f"From epoch {earlier} to {later}: **{len(changes.fixed)} fixed** (wrong → right), "
                f"**{len(changes.broken)} broken** (right → wrong); right {changes.right_before} → "
                f"{changes.right_after} of {len(split.y_test)} test images.")
    class_names = cached_evaluation(run_id).class_names
    for title, indices, correct in (("Fixed", changes.fixed, True), ("Broken", changes.broken, False)):
        shown = indices[:40]
        if len(shown):
            st.plotly_chart(charts.gallery(split.x_test[shown], [f"#{i} {class_names[split.y_test[i]]}" for i in shown],
                                           columns=10, correct=[correct] * len(shown), title=f"{title}: {len(indices)}"),
                            width="stretch", key=f"changes-{title}")


def per_class_view():
    scores = pd.concat([evaluation.per_class.assign(run=names[run_id]) for run_id, evaluation in evaluations.items()])
    st.plotly_chart(charts.per_class_scores(scores), width="stretch")


for (tab, tab_view), render in zip(evaluation_tabs, (lambda: confusion_view(evaluations, names, comparable),
                                                     per_class_view, mistakes_view)):
    if tab.open:
        with tab:
            if not evaluations:
                st.info("None of these runs has an evaluation to show (see the warnings above).")
            elif reason := comparable.why_not(tab_view):
                st.info(reason)
            else:
                render()

if epochs_tab.open:
    with epochs_tab:
        fixed_and_broken_view()

if calibration_tab.open:
    with calibration_tab:
        compare_calibration_view(chosen, names)

per = st.session_state.get("compare.per.kept", "epoch")
address_bar.show_view("compare", {
    "runs": chosen, "tab": st.session_state.get("compare.tab"), "per": per, "epoch": epoch,
    "metric": st.session_state.get(f"compare.metric.{per}.kept"), "smooth": st.session_state.get(f"compare.smooth.{per}.kept"),
    "x": st.session_state.get("compare.x_axis.kept"),
}, {"tab": TABS[0], "per": "epoch", "metric": CURVES[per][0], "smooth": SMOOTHING[per], "x": "epochs"})
