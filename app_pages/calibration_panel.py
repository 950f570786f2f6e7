"""Calibration: does a run's 90 % mean right 90 % of the time? Reliability diagrams, ECE, MCE, NLL and Brier
score before and after temperature scaling, on the Runs page's open run and side by side on Compare; and
Classify's choice between calibrated and raw probabilities."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import calibration_view, charts, plain_text
from app_pages.common import cached_test_split, run_store

GUO = "temperature scaling, Guo et al. 2017"
SCORES = {"ECE": st.column_config.NumberColumn("ECE", format="percent", help="Expected calibration error: the "
                                               "image-weighted mean gap between accuracy and confidence over 15 bins."),
          "MCE": st.column_config.NumberColumn("MCE", format="percent", help="Maximum calibration error: the largest "
                                               "gap of a non-empty bin."),
          "NLL": st.column_config.NumberColumn("NLL", format="%.4f", help="Mean negative log-likelihood of the true class."),
          "Brier": st.column_config.NumberColumn("Brier", format="%.4f", help="Multi-class Brier score (0 best, 2 worst)."),
          "ECE scaled": st.column_config.NumberColumn("ECE after scaling", format="percent"),
          "NLL scaled": st.column_config.NumberColumn("NLL after scaling", format="%.4f")}


@st.cache_data(max_entries=64, show_spinner="Reading the run's calibration…")
def cached_calibration(run_id: str, from_snapshot: bool) -> calibration_view.RunCalibration:
    """A finished run's calibration; an older run's computed from its last snapshot only `from_snapshot`
    (that reloads its test split)."""
    labels = (lambda: cached_test_split(run_id).y_test) if from_snapshot else None
    return calibration_view.run_calibration(run_store(), run_id, labels)


def run_calibration_section(run_id: str, status: str) -> None:
    """The open run's calibration (Runs page): its numbers and its diagrams before and after scaling."""
    if status != "FINISHED":
        st.caption("A run's calibration is measured on its test split when it finishes.")
        return
    found = cached_calibration(run_id, False)
    if found.calibration is None and found.snapshot_epoch is not None:
        st.caption(plain_text.markdown(found.note))
        if not st.button("Compute it from the snapshot", key=f"runs.calibrate.{run_id}",
                         help="Reloads the run's test split for its labels."):
            return
        try:
            found = _computed(run_id)
        except InputError as error:
            st.caption(plain_text.markdown(error))
            return
    if found.calibration is None:
        st.caption(plain_text.markdown(found.note))
        return
    before, after = found.calibration.before, found.calibration.after
    if after is not None:
        st.markdown(f"Temperature **{found.temperature_text}** fitted on the validation split ({GUO}): test ECE "
                    f"{before.ece:.2%} → {after.ece:.2%}, NLL {before.nll:.4f} → {after.nll:.4f}.")
    elif found.note:
        st.caption(plain_text.markdown(found.note))
    st.dataframe(calibration_view.report_table(found.calibration), hide_index=True, column_config=SCORES)
    panels = {"before scaling": before, **({f"after scaling ({found.temperature_text})": after} if after else {})}
    st.plotly_chart(charts.reliability_diagram(panels), width="stretch")


def compare_calibration_view(chosen: list[str], names: dict) -> None:
    """Compare's Calibration tab: runs `chosen` (ids, named `names`) side by side."""
    found = {}
    for run_id in chosen:
        try:
            found[names[run_id]] = _computed(run_id)
        except InputError as error:
            st.caption(f"{plain_text.markdown(names[run_id])}: {plain_text.markdown(error)}")
    for name, calibration in found.items():
        if calibration.note:
            st.caption(f"{plain_text.markdown(name)}: {plain_text.markdown(calibration.note)}")
    table = calibration_view.summary(found)
    if table.empty:
        st.info("None of these runs has a calibration to show.")
        return
    st.dataframe(table, hide_index=True, width="stretch", column_config=SCORES)
    scaled = st.radio("Probabilities", ["before scaling", "after temperature scaling"], horizontal=True,
                      key="compare.calibration.scaled",
                      help=f"After: divided by each run's temperature fitted on its validation split ({GUO}).")
    after = scaled.startswith("after")
    panels = {name: calibration.calibration.after if after else calibration.calibration.before
              for name, calibration in found.items() if calibration.calibration is not None}
    panels = {name: report for name, report in panels.items() if report is not None}
    if after and len(panels) < len(table):
        st.caption("Runs without a temperature are left out of the diagrams after scaling.")
    st.plotly_chart(charts.reliability_diagram(panels, f"Reliability diagrams (test split, {scaled})"), width="stretch")


def classify_temperature(run_id: str) -> float | None:
    """Classify's probabilities: the run's temperature to divide by, or None for raw ones. A toggle where
    the run fitted one (on by default), and a caption saying which probabilities are shown."""
    metrics = run_store().run(run_id).metrics
    temperature = calibration_view.temperature_of(metrics)
    calibrated = temperature is not None and st.toggle(
        "Calibrated probabilities", value=True, key="classify.calibrated",
        help=f"Divide the log-probabilities by the run's temperature ({GUO}), so that a 90 % means right about "
             "90 % of the time on the run's test split. Off: the network's own softmax.")
    st.caption(calibration_view.classify_caption(metrics, calibrated))
    return temperature if calibrated else None


def _computed(run_id: str) -> calibration_view.RunCalibration:
    return cached_calibration(run_id, True)
