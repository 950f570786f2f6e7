"""Compare: several runs side by side: curves, settings that differ, results, confusion, mistakes."""

import numpy as np
import pandas as pd
import streamlit as st

from cnnkit import charts, tracking
from cnnkit.errors import InputError
from pages.common import cached_evaluation, cached_test_split, mlflow_client, run_label

client = mlflow_client()
st.title("Compare runs")
PAGE_WIDTH_PX = 1000  # about what the wide layout gives the main column; galleries share it

runs = tracking.runs_frame(client)
finished = runs[runs["status"] == "FINISHED"]
if len(finished) < 2:
    st.info("Compare needs at least two finished runs. Launch some on the Train page.")
    st.stop()
labels = {row.run_id: run_label(row) for row in finished.itertuples()}
preselected = [run_id for run_id in st.session_state.get("compare_runs", []) if run_id in labels]
chosen = st.multiselect("Runs to compare", list(labels), default=preselected or list(labels)[:2],
                        format_func=labels.get, key="compare.runs",
                        help="Pick two or more finished runs, or select rows on the Runs page and press Compare.")
if len(chosen) < 2:
    st.info("Pick at least two runs.")
    st.stop()

results = tracking.results_table(client, chosen)
names = dict(zip(results["run_id"], results["run"]))
curves_tab, settings_tab, results_tab, confusion_tab, classes_tab, mistakes_tab = st.tabs(
    ["Curves", "Settings", "Results", "Confusion", "Per class", "Mistakes"])

with curves_tab:
    per, metric, smoothing = st.columns([1, 1, 2])
    granularity = per.radio("Per", ["epoch", "batch"], horizontal=True, key="compare.per")
    options = ["loss", "val_loss", "accuracy", "val_accuracy", "lr"] if granularity == "epoch" else ["batch_loss", "batch_lr"]
    chosen_metric = metric.selectbox("Metric", options, key=f"compare.metric.{granularity}")
    window = smoothing.slider("Smoothing (moving average over points)", 1, 50, 1 if granularity == "epoch" else 10,
                              key=f"compare.smooth.{granularity}")
    history = tracking.histories(client, chosen, batch=granularity == "batch")
    history["run"] = history["run"].map(names).fillna(history["run"])
    x = "epoch" if granularity == "epoch" else "step"
    st.plotly_chart(charts.compare_curves(history, chosen_metric, x=x, smoothing=window, log_x=granularity == "batch"),
                    width="stretch")

with settings_tab:
    diff = tracking.params_diff(client, chosen)
    if diff.empty:
        st.success("These runs used exactly the same settings (only the randomness differs if the seed does).")
    else:
        st.caption("Only the settings that differ between the chosen runs.")
        st.dataframe(diff.style.apply(lambda row: ["background-color: #fff3cd"] * len(row), axis=1), width="stretch")

with results_tab:
    shown = results.drop(columns=["run_id"]).set_index("run")
    st.dataframe(shown, width="stretch", column_config={
        column: st.column_config.NumberColumn(format="percent")
        for column in ("final_accuracy", "final_val_accuracy", "test_accuracy", "test_top3_accuracy", "test_top5_accuracy")})
    st.plotly_chart(charts.results_bars(results), width="stretch")

evaluations = {}
for run_id in chosen:
    try:
        evaluations[run_id] = cached_evaluation(run_id)
    except InputError as error:
        st.warning(f"{names[run_id]}: {error}")

with confusion_tab:
    normalize = st.toggle("Row-normalised (share of each true class)", value=True, key="compare.normalize")
    columns = st.columns(min(3, len(evaluations)) or 1)
    clicked = {}
    for i, (run_id, evaluation) in enumerate(evaluations.items()):
        with columns[i % len(columns)]:
            event = st.plotly_chart(
                charts.confusion_matrix(evaluation.confusion, evaluation.class_names, normalize=normalize, title=names[run_id],
                                        clickable=True),
                width="stretch", on_select="rerun", selection_mode="points", key=f"confusion-{run_id}")
            points = event.selection.points if event and event.selection else []
            if points:
                clicked = {"run": run_id, "true": points[0]["y"], "predicted": points[0]["x"]}
    if len(evaluations) >= 2:
        first, second = st.columns(2)
        a = first.selectbox("Difference: A", list(evaluations), format_func=names.get, key="compare.diff.a")
        b = second.selectbox("B", list(evaluations), index=1, format_func=names.get, key="compare.diff.b")
        try:
            st.plotly_chart(charts.confusion_difference(evaluations[a].confusion, evaluations[b].confusion,
                                                        evaluations[a].class_names, names=(names[a], names[b])), width="stretch")
        except ValueError as error:
            st.warning(f"These runs can't be differenced: {error}")
    if clicked:
        evaluation = evaluations[clicked["run"]]
        true_index = evaluation.class_names.index(str(clicked["true"]))
        predicted_index = evaluation.class_names.index(str(clicked["predicted"]))
        cell = evaluation.mistakes[(evaluation.mistakes["true"] == true_index) &
                                   (evaluation.mistakes["predicted"] == predicted_index)]
        st.markdown(f"**{names[clicked['run']]}**: true *{clicked['true']}*, predicted *{clicked['predicted']}*")
        if true_index == predicted_index:
            st.caption(f"{int(evaluation.confusion[true_index, true_index])} test images classified correctly.")
        elif cell.empty:
            st.caption("No test images in this cell.")
        else:
            try:
                images = cached_test_split(clicked["run"]).x_test[cell["index"].to_numpy()[:50]]
                st.plotly_chart(charts.gallery(images, [f"#{i} {c:.0%}" for i, c in zip(cell["index"], cell["confidence"])],
                                               columns=10), width="stretch")
            except InputError as error:
                st.warning(str(error))
    else:
        st.caption("Click a cell to see the test images behind it.")

with classes_tab:
    scores = pd.concat([evaluation.per_class.assign(run=names[run_id]) for run_id, evaluation in evaluations.items()])
    st.plotly_chart(charts.per_class_scores(scores), width="stretch")

with mistakes_tab:
    if not evaluations:
        st.stop()
    class_names = next(iter(evaluations.values())).class_names
    left, right, count = st.columns(3)
    true_filter = left.selectbox("True class", [None, *class_names], format_func=lambda v: "any" if v is None else v,
                                 key="compare.true")
    predicted_filter = right.selectbox("Predicted class", [None, *class_names], format_func=lambda v: "any" if v is None else v,
                                       key="compare.pred")
    limit = count.slider("Images", 10, 100, 30, step=10, key="compare.limit")
    aligned = tracking.same_test_set(client, list(evaluations))
    st.caption("Runs saw the same test set: each column shows the same images, so you can see which run fixed which "
               "mistake (blue: right, red: wrong)." if aligned else
               "These runs saw different test sets; each gallery shows its own mistakes.")
    indices = set()
    for evaluation in evaluations.values():
        table = evaluation.mistakes
        if true_filter is not None:
            table = table[table["true"] == class_names.index(true_filter)]
        if predicted_filter is not None:
            table = table[table["predicted"] == class_names.index(predicted_filter)]
        indices |= set(table["index"].tolist())
    shown_indices = np.array(sorted(indices))[:limit]
    columns = st.columns(len(evaluations))
    for column, (run_id, evaluation) in zip(columns, evaluations.items()):
        with column:
            st.markdown(f"**{names[run_id]}**")
            if not aligned:
                shown_indices = evaluation.mistakes["index"].to_numpy()[:limit]
            if len(shown_indices) == 0:
                st.caption("No mistakes match the filters.")
                continue
            try:
                split = cached_test_split(run_id)
            except InputError as error:
                st.warning(str(error))
                continue
            mistakes = evaluation.mistakes.set_index("index")
            predicted = [int(mistakes.loc[i, "predicted"]) if i in mistakes.index else int(split.y_test[i]) for i in shown_indices]
            captions = [f"true: {class_names[split.y_test[i]]}\npred: {class_names[p]}" for i, p in zip(shown_indices, predicted)]
            correct = [p == split.y_test[i] for i, p in zip(shown_indices, predicted)]
            st.plotly_chart(charts.gallery(split.x_test[shown_indices], captions, columns=5, correct=correct,
                                           width=PAGE_WIDTH_PX // len(columns)), width="stretch", key=f"gallery-{run_id}")
