"""The open run's report card (Runs page): can this result be trusted? Its test accuracy with a 95 % interval,
calibration, robustness to corruptions and Classify's out-of-distribution hint, each in one sentence beside
its numbers and charts (`experiments.report_card`)."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.experiments import report_card
from cnnkit.explorer import calibration_view, charts, plain_text
from cnnkit.models import predict
from cnnkit.tracking import run_schema
from app_pages.calibration_panel import SCORES, cached_calibration
from app_pages.common import cached_corruption_table, cached_model, cached_test_split

HINTS = "report_card.hints"  # the runs whose hint statistics were asked for in this session


@st.cache_resource(max_entries=4, show_spinner="Running the model on the run's test images…")
def cached_hint(run_id: str) -> report_card.HintReference:
    return report_card.hint_reference(predict.test_reference(cached_model(run_id), cached_test_split(run_id).x_test))


def report_card_section(run) -> None:
    """The card of `run` (the open run's summary): one sentence per part, the part's numbers or chart beside
    it. Its calibration and sweep are read once (cached), not at every rerun of the Runs page."""
    run_id = run.run_id
    hint, hint_error = None, None
    if run_id in st.session_state.get(HINTS, ()):
        try:
            hint = cached_hint(run_id)
        except InputError as error:
            hint_error = error
    logged = cached_calibration(run_id, False).calibration if run_schema.TEST_ECE in run.metrics else None
    card = report_card.card_of(run, logged, cached_corruption_table(run_id, run.metrics), hint)
    parts = {part.title: part for part in card.parts()}
    st.caption("Can this result be trusted? Each line says what the numbers beside it mean.")
    _sentence(parts["Test accuracy"])
    words, chart = st.columns([2, 3])
    with words:
        _sentence(parts["Calibration"])
        if card.calibration is not None:
            st.dataframe(calibration_view.report_table(card.calibration), hide_index=True, column_config=SCORES)
    if card.calibration is not None:
        after = card.calibration.after
        panels = {"before scaling": card.calibration.before,
                  **({f"after scaling (T = {card.calibration.temperature:.2f})": after} if after else {})}
        chart.plotly_chart(charts.reliability_diagram(panels), width="stretch", key=f"report.reliability-{run_id}")
    _sentence(parts["Robustness"])
    if card.robustness is not None:
        st.plotly_chart(charts.corruption_heatmap(card.robustness.table), width="stretch", key=f"report.map-{run_id}")
    _sentence(parts["Out-of-distribution hint"])
    if hint_error is not None:
        st.caption(f"The hint's statistics can't be computed: {plain_text.markdown(hint_error)}")
    elif hint is None and card.status == "FINISHED" and st.button(
            "Compute the hint's statistics", key=f"report.hint-{run_id}",
            help="Runs the model on (up to 2,000 of) the run's test images, as Classify does before its hint."):
        st.session_state.setdefault(HINTS, set()).add(run_id)
        st.rerun()


def _sentence(part: report_card.Part) -> None:
    """A part's title and sentence (cnnkit's own words and numbers, shown as Markdown)."""
    (st.markdown if part.known else st.caption)(f"**{part.title}** · {part.sentence}")
