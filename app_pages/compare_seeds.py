"""Compare's seed groups under the results chart: runs that differ only by their seed, and how far
their test accuracies spread; drawn only when some group has several runs."""

import streamlit as st

from cnnkit.experiments import ablation_analysis
from cnnkit.explorer import comparison, plain_text, seed_spread
from cnnkit.stats import seeds


def seed_groups_view(results, differing) -> None:
    """`results` as `RunStore.results_table`, `differing` as `RunStore.params_diff` of the same runs."""
    groups = comparison.seed_groups(differing)
    if not seed_spread.has_seed_groups(groups):
        return
    st.markdown("##### Seed groups")
    st.dataframe(seed_spread.seed_group_table(groups, results), hide_index=True, width="stretch")
    reference = seed_spread.reference_of(groups, results)
    st.caption("Runs whose settings differ only by their seed, grouped: the spread of their test accuracies is "
               "seed noise. " + (f"Differences are from **{plain_text.markdown(reference)}**; *seeds needed* is how "
                                 f"many seeds per group would tell a difference that size from the groups' noise at "
                                 f"{seeds.POWER * 100:.0f} % power and a two-sided {seeds.ALPHA * 100:.0f} % level." if reference else
                                 f"Groups of {ablation_analysis.MIN_SEEDS} seeds or more are also compared: how many "
                                 "seeds would tell their difference from that noise."))
