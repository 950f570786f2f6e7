"""Inspect's "Label issues" tab: the images whose given label out-of-sample probabilities doubt most (confident
learning, cleanlab), as a gallery and a CSV to download: the finished run's validation and test images, or its
training examples through a label audit (`label_audit_panel`), whose suspects can be left out of a next run."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import atlas_view, charts, label_issues, plain_text
from cnnkit.models import inspection
from app_pages import label_audit_panel, relabel_links
from app_pages.common import cached_model, cached_test_split, kept_key, run_store

HELD_OUT = "Validation and test splits (this run)"
TRAINING = "Training split (a label audit)"


@st.cache_data(max_entries=16, show_spinner="Looking for label issues…")
def cached_label_issues(run_id: str, class_names: tuple[str, ...]):
    """The run's suspected label errors; an older run's probabilities are computed from its model."""
    def predict(images):
        return inspection.predict_probabilities(cached_model(run_id), images)

    try:
        data = cached_test_split(run_id)
    except InputError:
        data = None  # a run that logged its probabilities needs no data to be judged
    held_out = label_issues.held_out_of_run(run_store(), run_id, data, predict)
    return label_issues.find_label_issues(held_out, class_names), {one.split: len(one.labels) for one in held_out}


def show(tab, run_id: str, class_names, split) -> None:
    """Draw the tab for run `run_id` (`split`: its reloaded data, None when it is not available)."""
    with tab:
        source = st.segmented_control("Label issues of", [HELD_OUT, TRAINING], default=HELD_OUT,
                                      key=f"inspect.label_issues_source.{run_id}") or HELD_OUT
        if source == TRAINING:
            training_split(run_id, split)
        else:
            held_out(run_id, class_names, split)


def held_out(run_id: str, class_names, split) -> None:
    st.caption("Images of the validation and test splits, which the network never trained on, whose given label "
               "its probabilities doubt (confident learning, Northcutt et al. 2021), most suspicious first. Score: "
               "the probability of the given label. Position: the image's place in its split (an official test "
               "set's index in its file). Always the finished run's model, whatever the epoch above.")
    try:
        table, sizes = cached_label_issues(run_id, tuple(class_names))
    except InputError as error:
        st.info(plain_text.markdown(error))
        return
    looked_at = " and ".join(f"{count:,} {name}" for name, count in sizes.items() if count)
    st.write(f"**{len(table):,}** suspected label error{'s' * (len(table) != 1)} among {looked_at} images.")
    splits = st.multiselect("Splits", list(sizes), key=kept_key(f"inspect.label_issues_splits.{run_id}", list(sizes)))
    suspects(table[table["split"].isin(splits)], split, f"label_issues_{run_id}", run_id)
    if len(table):
        relabel_links.show(run_id, table)  # says why a run's held-out suspects can't be relabelled


def training_split(run_id: str, split) -> None:
    st.caption("The run's own model has seen its training examples, so it can't judge their labels. A label audit "
               "trains k runs of its settings, each without one fold of them, and each fold's model predicts the "
               "examples it left out: ranked like the held-out splits. Position: the example's place in the "
               "audited training split.")
    found = label_audit_panel.show(run_id)
    if found is None:
        return
    table, audited, audit_id = found
    st.write(f"**{len(table):,}** suspected label error{'s' * (len(table) != 1)} among {audited:,} training examples.")
    suspects(table, split, f"label_audit_{audit_id}", run_id)
    if len(table):
        relabel_links.show(run_id, table.head(train_again(table, run_id, audit_id)))


def suspects(table, split, name: str, run_id: str) -> None:
    """The suspects' CSV, their images (at most the slider's) and their table."""
    if not len(table):
        return
    st.download_button("Download CSV", label_issues.to_csv(table), file_name=f"{name}.csv", mime="text/csv",
                       key=f"inspect.{name}_csv")
    # a fixed range: a slider whose bounds followed the splits' count would be a new widget at each pick
    shown = table.head(st.slider("Images shown (at most)", 1, 100,
                                 key=kept_key(f"inspect.label_issues_count.{run_id}", 20)))
    try:
        images = None if split is None else label_issues.images_of(shown, split)
    except KeyError as error:
        st.caption(f"The list goes without images: {plain_text.markdown(error.args[0])} of this run.")
    else:
        if images is None:
            st.caption("The run's images are not available here, so the list goes without them.")
        else:
            st.plotly_chart(charts.gallery(images, label_issues.captions(shown), columns=10,
                                           title="Suspected label errors"), width="stretch")
    st.dataframe(shown, hide_index=True, width="stretch")


def train_again(table, run_id: str, audit_id: str) -> int:
    """'Train again without these N examples': the audit's top suspects into the Train page's Exclude examples.
    How many the slider picked (the relabel button below takes the same)."""
    count = len(table) if len(table) == 1 else st.slider(
        "Suspects to leave out or relabel (the most suspicious first)", 1, len(table), len(table),
        key=f"inspect.label_audit_top.{audit_id}")
    if st.button(f"Train again without these {count:,} examples", icon=":material/replay:",
                 key=f"inspect.label_audit_train_again.{audit_id}",
                 help="Open the Train page with this run's settings and these examples in Exclude examples (added to "
                      "any it already left out): validation and test stay the run's, so Compare pairs the two runs."):
        try:
            st.session_state["relaunch_config"] = atlas_view.without_examples(run_store(), run_id,
                                                                              table["id"].head(count))
            st.switch_page("app_pages/train.py")
        except InputError as error:
            st.error(f"This run's settings can't be loaded: {plain_text.markdown(error)}")
    return count
