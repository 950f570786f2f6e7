"""Inspect's "Label issues" tab: the validation and test images whose given label the finished run
doubts most (confident learning, cleanlab), as a gallery and a CSV to download."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import charts, label_issues, plain_text
from cnnkit.models import inspection
from app_pages import relabel_links
from app_pages.common import cached_model, cached_test_split, kept_key, run_store


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
        splits = st.multiselect("Splits", list(sizes),
                                key=kept_key(f"inspect.label_issues_splits.{run_id}", list(sizes)))
        table = table[table["split"].isin(splits)]
        if not len(table):
            return
        st.download_button("Download CSV", label_issues.to_csv(table), file_name=f"label_issues_{run_id}.csv",
                           mime="text/csv", key=f"inspect.label_issues_csv.{run_id}")
        # a fixed range: a slider whose bounds followed the splits' count would be a new widget at each pick
        shown = table.head(st.slider("Images shown (at most)", 1, 100,
                                     key=kept_key(f"inspect.label_issues_count.{run_id}", 20)))
        if split is None:
            st.caption("The run's images are not available here, so the list goes without them.")
        else:
            st.plotly_chart(charts.gallery(label_issues.images_of(shown, split), label_issues.captions(shown),
                                           columns=10, title="Suspected label errors"), width="stretch")
        st.dataframe(shown, hide_index=True, width="stretch")
        relabel_links.show(run_id, table)
