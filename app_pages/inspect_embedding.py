"""Inspect's "Embedding" tab: the run's test images as its network sees them (penultimate-layer
features, UMAP or PCA), coloured by label, prediction, correctness or label issue; a click shows the
image; another run beside it. PCA is drawn at once; UMAP is computed in the background, once per run
for every visitor, and swapped in when it is ready."""

import functools

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import background_work, charts, embedding, plain_text
from app_pages.common import cached_evaluation, cached_model, cached_test_split, kept_key
from app_pages.inspect_label_issues import cached_label_issues

POLL_SECONDS = 2.0  # how often the maps look whether UMAP is ready
PROJECTIONS = {"umap": "UMAP", "pca": "PCA"}


@st.cache_data(max_entries=4, show_spinner="Placing the test images…")
def cached_embedding(run_id: str) -> embedding.Embedding:
    names = cached_evaluation(run_id).class_names
    try:
        issues, _ = cached_label_issues(run_id, tuple(names))
        flagged = issues.loc[issues["split"] == "test", "position"].tolist()
    except InputError:
        flagged = []  # no probabilities to judge labels by: nothing flagged
    split = cached_test_split(run_id)
    return embedding.embedding_of_run(cached_model(run_id), split.x_test, split.y_test, names, flagged)


@st.cache_resource
def umap_work() -> background_work.BackgroundWork:
    """UMAP projections under way or done, by run: shared by every visitor and rerun."""
    return background_work.BackgroundWork(max_entries=8)


def umap_of(run_id: str) -> background_work.Outcome:
    """`run_id`'s UMAP so far, started in the background on first ask."""
    features = cached_embedding(run_id).features
    return umap_work().outcome((run_id, embedding.SEED), functools.partial(embedding.umap_2d, features))


def umap_pending(run_id: str) -> bool:
    try:
        return not umap_of(run_id).done
    except InputError:
        return False  # no features: run_map says why


def placed(run_id: str, projection: str):
    """(the run's points on the plane, the projection drawn, UMAP's outcome so far or None when PCA is asked for)."""
    points = cached_embedding(run_id)
    umap = umap_of(run_id) if projection == "umap" else None
    if umap and umap.done and not umap.error:
        return points.placed(umap.value), "UMAP", umap
    return points.placed(embedding.pca_2d(points.features)), "PCA", umap


def umap_note(umap: background_work.Outcome | None) -> None:
    if umap is None:
        return
    if not umap.done:
        st.info(f"UMAP is being computed ({umap.seconds:.0f} s so far; 10,000 images take about 15 s on two CPU "
                "cores, 30 s the first time after installing): PCA meanwhile.", icon=":material/hourglass_top:")
    elif umap.error:
        st.warning(f"UMAP failed: {plain_text.markdown(umap.error)} PCA instead.")
    else:
        st.caption(f"UMAP took {umap.seconds:.0f} s.")


def run_map(run_id: str, label: str, colour_by: str, projection: str) -> bool:
    """Draw `run_id`'s map; whether its UMAP is still computing."""
    try:
        points, drawn, umap = placed(run_id, projection)
        split = cached_test_split(run_id)
    except InputError as error:
        st.info(plain_text.markdown(error))
        return False
    umap_note(umap)
    event = st.plotly_chart(charts.embedding_scatter(points, colour_by, title=f"{label} · {drawn}"), width="stretch",
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
    return bool(umap and not umap.done)


def maps(runs: list, labels: dict, colour_by: str, projection: str, polling: bool) -> None:
    """The runs' maps side by side; while polling, the whole page again once no UMAP is pending."""
    columns = st.columns(2) if len(runs) == 2 else [st.container()]
    pending = False
    for column, run in zip(columns, runs):
        with column:
            pending = run_map(run, labels[run], colour_by, projection) or pending
    if polling and not pending:
        st.rerun()  # drawn again without polling


def show(tab, run_id: str, labels: dict, split) -> None:
    """Draw the tab for run `run_id`; `labels`: every run the picker offers, id -> label."""
    with tab:
        st.caption(f"Up to {embedding.LIMIT:,} test images, evenly spread, placed by what the network's softmax "
                   "layer reads (its penultimate layer): UMAP keeps who is near whom (by cosine similarity), PCA "
                   "shows the features' two main axes at once. Near points: images the network sees alike. "
                   "The finished run's model, whatever the epoch above.")
        if split is None:
            st.info("Needs the run's test images, which are not available here.")
            return
        colours, projections, others = st.columns([3, 1, 2])
        colour_by = colours.radio("Colour by", list(embedding.COLOURS), format_func=embedding.COLOURS.get,
                                  horizontal=True, key=kept_key("inspect.embedding_colour", "label"))
        if embedding.umap_available():
            projection = projections.radio("Projection", list(PROJECTIONS), format_func=PROJECTIONS.get,
                                           horizontal=True, key=kept_key("inspect.embedding_projection", "umap"))
        else:
            projection = "pca"
            projections.caption("PCA only: UMAP needs umap-learn, which is not installed here.")
        choices = [None, *(run for run in labels if run != run_id)]
        beside = others.selectbox("Beside another run", choices,
                                  format_func=lambda r: "none" if r is None else labels[r],
                                  placeholder="none", key=kept_key(f"inspect.embedding_beside.{run_id}", None))
        runs = [run for run in (run_id, beside) if run]
        polling = projection == "umap" and any([umap_pending(run) for run in runs])
        st.fragment(maps, run_every=POLL_SECONDS if polling else None)(runs, labels, colour_by, projection, polling)
