"""Inspect's "Embedding" tab: the run's test images as its network sees them (penultimate-layer
features, PCA), coloured by label, prediction, correctness or label issue; a click shows the image;
another run beside it."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import charts, embedding, plain_text
from app_pages.common import cached_evaluation, cached_model, cached_test_split, kept_key
from app_pages.inspect_label_issues import cached_label_issues


@st.cache_data(max_entries=4, show_spinner="Placing the test images…")
def cached_embedding(run_id: str):
    names = cached_evaluation(run_id).class_names
    try:
        issues, _ = cached_label_issues(run_id, tuple(names))
        flagged = issues.loc[issues["split"] == "test", "position"].tolist()
    except InputError:
        flagged = []  # no probabilities to judge labels by: nothing flagged
    split = cached_test_split(run_id)
    return embedding.embedding_of_run(cached_model(run_id), split.x_test, split.y_test, names, flagged)


def run_map(run_id: str, label: str, colour_by: str) -> None:
    try:
        points, split = cached_embedding(run_id), cached_test_split(run_id)
    except InputError as error:
        st.info(plain_text.markdown(error))
        return
    event = st.plotly_chart(charts.embedding_scatter(points, colour_by, title=label), width="stretch",
                            on_select="rerun", selection_mode="points", key=f"inspect.embedding_map.{run_id}")
    picked = [point["customdata"] for point in (event.selection.points if event else []) if "customdata" in point]
    if picked:
        row = points.set_index("position").loc[int(picked[0])]
        image = split.x_test[int(picked[0])]
        st.image(image if image.shape[-1] == 3 else image[..., 0], width=140,
                 caption=f"test {int(picked[0])}: label {row['label']}, predicted {row['prediction']}"
                         f"{', label suspected' * (row['flagged'] == 'suspected')}")
    else:
        st.caption("Click a point to see its image.")


def show(tab, run_id: str, labels: dict, split) -> None:
    """Draw the tab for run `run_id`; `labels`: every run the picker offers, id -> label."""
    with tab:
        st.caption(f"Up to {embedding.LIMIT:,} test images, evenly spread, placed by what the network's softmax "
                   "layer reads (its penultimate layer) projected on its two main axes (PCA). Near points: images the "
                   "network sees alike. The finished run's model, whatever the epoch above.")
        if split is None:
            st.info("Needs the run's test images, which are not available here.")
            return
        left, right = st.columns(2)
        colour_by = left.radio("Colour by", list(embedding.COLOURS), format_func=embedding.COLOURS.get,
                               horizontal=True, key=kept_key("inspect.embedding_colour", "label"))
        others = [None, *(run for run in labels if run != run_id)]
        beside = right.selectbox("Beside another run", others, format_func=lambda r: "none" if r is None else labels[r],
                                 placeholder="none", key=kept_key(f"inspect.embedding_beside.{run_id}", None))
        columns = st.columns(2) if beside else [st.container()]
        for column, run in zip(columns, [run_id, beside]):
            with column:
                run_map(run, labels[run], colour_by)
