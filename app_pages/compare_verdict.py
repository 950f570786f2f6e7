"""Compare's verdict under the results table: is one run really better, or within what chance gives? Each
run's accuracy with its 95 % interval, and for runs tested on the same images the paired test."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import comparison, plain_text, verdict
from cnnkit.stats import paired
from app_pages.common import cached_evaluation, run_store


def verdict_view(chosen: list[str], names: dict) -> None:
    """The verdict on the finished models of runs `chosen` (ids), named `names` (id -> display name)."""
    st.markdown("##### Is the difference real?")
    evaluations = {}
    for run_id in chosen:
        try:
            evaluations[run_id] = cached_evaluation(run_id)
        except InputError as error:
            st.caption(f"{plain_text.markdown(names[run_id])}: {plain_text.markdown(error)}")
    if len(evaluations) < 2:
        st.info("A verdict needs two runs with an evaluation.")
        return
    fingerprints = run_store().test_fingerprints(list(evaluations))
    named = {names[run_id]: evaluation for run_id, evaluation in evaluations.items()}
    found = verdict.verdict(named, comparison.comparability(
        named, {names[run_id]: fingerprint for run_id, fingerprint in fingerprints.items()}))
    if found.pair:
        st.markdown(f"**{plain_text.markdown(found.sentence)}**")
        st.dataframe(found.pair.counts(), width="content")
        st.caption(f"Only the {found.pair.only_a + found.pair.only_b:,} test images one run got right and the "
                   "other wrong tell them apart: McNemar's exact test on those; the interval is a paired bootstrap "
                   f"of the {found.pair.total:,} test images ({paired.RESAMPLES:,} resamples).")
    if found.table is not None:
        st.dataframe(found.table, hide_index=True, width="stretch", column_config={
            "B − A (points)": st.column_config.NumberColumn(format="%.2f"),
            "p": st.column_config.NumberColumn(format="%.2g"),
            "p (Holm)": st.column_config.NumberColumn(format="%.2g")})
        st.caption("Pairs of runs tested on the same images. With many pairs some look better by chance alone: "
                   "Holm's correction raises each p-value so that all the verdicts together are wrong at most "
                   "5 % of the time.")
    for note in found.notes:
        st.info(plain_text.markdown(note))
    st.caption("  \n".join(f"{plain_text.markdown(run)}: {accuracy}" for run, accuracy in found.accuracies.items()))
