"""Inspect's per-class accuracy: each class's share of its test images right, with its 95 % interval."""

import streamlit as st

from cnnkit.explorer import accuracy_intervals, charts


def class_accuracy_view(evaluation) -> None:
    """The chart and, folded, its table, from a run's evaluation (`tracking.RunEvaluation`)."""
    classes = accuracy_intervals.class_accuracy(evaluation.confusion, evaluation.class_names)
    st.plotly_chart(charts.class_accuracy(classes), width="stretch")
    with st.expander("Per-class accuracy as a table"):
        st.dataframe(classes, hide_index=True, width="stretch", column_config={
            "right": st.column_config.NumberColumn("right", format="%d"),
            "images": st.column_config.NumberColumn("test images", format="%d"),
            **{column: st.column_config.NumberColumn(label, format="percent") for column, label in
               (("accuracy", "accuracy"), ("low", "95 % interval from"), ("high", "95 % interval to"))}})
    st.caption("A class's interval is wide when it has few test images: classes whose intervals overlap may "
               "differ by chance alone.")
