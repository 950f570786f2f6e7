"""The System chart under runs' training curves (Runs, Compare): the machine's use while they trained,
or one line saying a run has none."""

import streamlit as st

from cnnkit.explorer import charts, plain_text

WHY_NONE = "trained before cnnkit recorded the machine's use, or with `CNNKIT_SYSTEM_METRICS_SECONDS=0`"


def system_section(store, names: dict[str, str]) -> None:
    """The runs' System chart; `names` maps each run's id to its name as the page shows it."""
    history = store.system_history(list(names))
    missing = [name for run_id, name in names.items() if run_id not in set(history["run_id"])]
    if len(missing) == len(names):
        st.caption(f"No system metrics (CPU, memory, GPU use): {WHY_NONE}.")
        return
    st.plotly_chart(charts.system_use(history), width="stretch")
    if missing:
        st.caption(f"No system metrics for {plain_text.markdown(', '.join(missing))}: {WHY_NONE}.")
