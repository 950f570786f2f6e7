"""Inspect's "Neighbours" tab: near-identical images within the test split and across training and test
(leakage), and the test images least like the rest, as the finished run's network sees them."""

import streamlit as st

from cnnkit.explorer import charts, neighbours
from app_pages.common import cached_model, kept_key


@st.cache_data(max_entries=4, show_spinner="Computing the network's features of the training and test images…")
def cached_features(run_id: str, train_limit: int, _split):
    model = cached_model(run_id)
    return neighbours.features_of(model, _split.x_train, train_limit), neighbours.features_of(model, _split.x_test)


@st.cache_data(max_entries=8, show_spinner="Comparing every pair…")
def cached_findings(run_id: str, train_limit: int, threshold: float, _split):
    train, test = cached_features(run_id, train_limit, _split)
    return (neighbours.similar_pairs(test, threshold=threshold), neighbours.similar_pairs(train, test, threshold),
            neighbours.outliers(test))


def show(tab, run_id: str, split) -> None:
    """Draw the tab for run `run_id` (`split`: its reloaded data, None when it is not available)."""
    with tab:
        st.caption("Features: what the network's softmax layer reads (its penultimate layer), compared by cosine "
                   "similarity. The finished run's model, whatever the epoch above.")
        if split is None:
            st.info("Needs the run's images, which are not available here.")
            return
        left, right = st.columns(2)
        limit = left.number_input("Training images compared (at most)", 1, 60_000, step=1000,
                                  key=kept_key(f"inspect.neighbours_limit.{run_id}", neighbours.TRAIN_LIMIT),
                                  help="Evenly spread over the training split; more take longer.")
        threshold = right.slider("Near-duplicate from similarity", 0.90, 1.0, step=0.001, format="%.3f",
                                 key=kept_key(f"inspect.neighbours_threshold.{run_id}", neighbours.THRESHOLD))
        started = f"inspect.neighbours_started.{run_id}"
        if st.button("Find near-duplicates and outliers", key=f"inspect.neighbours_find.{run_id}"):
            st.session_state[started] = True
        if not st.session_state.get(started):
            return
        within, across, unusual = cached_findings(run_id, int(limit), float(threshold), split)
        for pairs, first, images, title in ((within, "test", split.x_test, "within the test split"),
                                            (across, "train", split.x_train, "across training and test (leakage)")):
            count = f"**{len(pairs)}** pair{'s' * (len(pairs) != 1)}" if len(pairs) < 50 else "**50** or more pairs"
            shown = ", the 50 most similar shown" if len(pairs) >= 50 else ""
            st.write(f"{count} {title} at {threshold:.3f} or above{shown}.")
            if len(pairs):
                st.plotly_chart(charts.pair_gallery(
                    images[pairs["first"].to_numpy()], split.x_test[pairs["second"].to_numpy()],
                    [f"{first} {a}" for a in pairs["first"]],
                    [f"test {b}\n{s:.4f}" for b, s in zip(pairs["second"], pairs["similarity"])],
                    title=f"Near-duplicates {title}"), width="stretch")
        captions = [f"test {p}\n{s:.3f}" for p, s in zip(unusual["position"], unusual["similarity"])]
        st.plotly_chart(charts.gallery(split.x_test[unusual["position"].to_numpy()], captions, columns=10,
                                       title="The test images least like the rest"), width="stretch")
