"""The corruption sweep: on Runs' open run, started as a job, followed while it runs, then its heat map;
on Compare, the runs' heat maps side by side."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.explorer import charts, plain_text
from cnnkit.tracking import run_schema
from cnnkit.training import SWEEP_IMAGES
from app_pages import common
from app_pages.action_button import action_button
from app_pages.guard import guarded

POLL_SECONDS = 1.0  # how often a running sweep's progress redraws
WHAT = ("Each test image noised, blurred, dimmed, compressed, pixelated, turned, shifted, sheared and shrunk at "
        "5 severities (constants of MNIST-C for grey images, CIFAR-10-C for colour), the run's accuracy on each.")


def sweep_job(run_id: str):
    """The newest corruption sweep job of the run in this server, or None."""
    return next((job for job in common.job_manager().snapshots() if job.kind == "corruptions" and job.run_id == run_id),
                None)


def sweep_progress(job_id: str) -> None:
    """A running sweep's bar and its stop button; once it has ended, the whole page again (its heat map)."""
    job = common.job_manager().find(job_id)
    if job is None or not job.is_active:
        st.rerun()
    with st.container(horizontal=True, vertical_alignment="center"):
        st.progress(job.fraction, text=plain_text.markdown(job.progress.describe() if job.progress else job.state))
        if st.button("Stop the sweep", key=f"corruptions.stop-{job_id}", disabled=job.cancel_requested):
            common.job_manager().cancel(job_id, visitor=common.visitor())


def corruption_section(run) -> None:
    """Runs' open run (`run`, its summary): its latest sweep's numbers and heat map, and a button that starts
    one (finished runs)."""
    run_id = run.run_id
    st.subheader("Robustness to corruptions", help=WHAT)
    job = sweep_job(run_id)
    if run.status == "FINISHED":
        count, start = st.columns([1, 3], vertical_alignment="bottom")
        images = count.number_input("Test images", 1, 100_000, SWEEP_IMAGES, step=500, key=f"corruptions.images-{run_id}",
                                    help="How many of the run's first test images to corrupt.")
        if action_button(start, "Run a corruption sweep", f"corruptions.start-{run_id}",
                         disabled=bool(job and job.is_active)):
            try:
                common.job_manager().submit_corruption_sweep(run_id, int(images), visitor=common.visitor())
                job = sweep_job(run_id)
            except InputError as error:
                st.error(plain_text.markdown(error))
    if job and job.is_active:
        st.fragment(guarded("the corruption sweep's progress")(sweep_progress), run_every=POLL_SECONDS)(job.job_id)
    elif job and job.state == "failed":
        st.error(f"The corruption sweep failed: {plain_text.markdown(job.error)}")
    elif job and job.state == "cancelled":
        st.caption("The last corruption sweep was stopped before its end: nothing of it was logged.")
    table = common.cached_corruption_table(run_id, run.metrics)
    if table is None:
        st.caption("No corruption sweep of this run yet.")
        return
    metrics = run.metrics
    st.caption(f"On {metrics.get(run_schema.CORRUPTION_IMAGES, 0):,.0f} test images: clean "
               f"{metrics.get(run_schema.CORRUPTION_CLEAN_ACCURACY, float('nan')):.1%}, mean corruption accuracy "
               f"{metrics.get(run_schema.CORRUPTION_MEAN_ACCURACY, float('nan')):.1%}, a drop of "
               f"{100 * metrics.get(run_schema.CORRUPTION_DROP, float('nan')):.1f} points.")
    st.plotly_chart(charts.corruption_heatmap(table), width="stretch", key=f"corruptions.map-{run_id}")


def corruption_maps(store, names: dict[str, str]) -> None:
    """Compare: the heat maps of the runs that have a sweep, side by side (three to a row); `names` maps each
    run's id to its name as the page shows it."""
    tables = {run_id: store.corruption_table(run_id) for run_id in names}
    swept = [run_id for run_id, table in tables.items() if table is not None]
    unswept = [names[run_id] for run_id in names if run_id not in swept]
    if swept:
        columns = st.columns(min(len(swept), 3))
        for position, run_id in enumerate(swept):
            columns[position % len(columns)].plotly_chart(charts.corruption_heatmap(tables[run_id], names[run_id]),
                                                          width="stretch", key=f"compare.corruptions-{run_id}")
    if unswept:
        st.caption(f"No corruption sweep of {plain_text.markdown(', '.join(unswept))}: start one from the run on the "
                   "Runs page.")
