"""The Train page's job panels: the learning-rate range test's result, and the list of training
jobs with the live view of the one followed. Each redraws itself only while a job is active."""

import streamlit as st

from app_pages import common
from app_pages.guard import guarded
from app_pages.train_form import use_range, watch
from cnnkit.explorer import charts, job_view, plain_text

POLL_SECONDS = 1.0  # how often the jobs and range-test panels redraw while a job is queued or running


def polled(panel, active: bool) -> None:
    """Draw `panel` as a fragment that redraws itself every POLL_SECONDS while `active` (a job is
    queued or running), and not at all otherwise: an idle page costs nothing. The panel gets
    `polling` and, once nothing it watches is active, calls for one full rerun, which turns it off."""
    st.fragment(guarded(f"the Train page's {panel.__name__}")(panel), run_every=POLL_SECONDS if active else None)(
        polling=active)


def lr_finder_panel(polling: bool) -> None:
    job = common.job_manager().find(st.session_state.get("lr_job") or "")
    if polling and (job is None or not job.is_active):
        st.rerun()  # the whole page, so the finished result is drawn and polling stops
    if job is None:
        return
    ran = job.config
    st.caption(f"Learning-rate range test for {plain_text.markdown(ran.arch)} on {plain_text.markdown(ran.dataset)} "
               f"with {ran.optimizer}, batch {ran.batch_size}")
    if job.is_active:
        st.info(f"Range test {job.state}…")
    elif job.state == "finished":
        test = job.result
        s = test.suggestion
        st.plotly_chart(charts.lr_finder(test.learning_rates, test.losses, s.steepest, s.lower, s.upper),
                        width="stretch")
        st.caption(f"Steepest descent at {s.steepest:.2g}; suggested range {s.lower:.2g} – {s.upper:.2g}.")
        if st.button("Use this range (learning rate → low end, peak → high end)"):
            use_range(s.lower, s.upper)
    elif job.state == "cancelled":
        st.warning("Range test cancelled.")
    else:
        st.error(f"Range test failed: {plain_text.markdown(job.error)}")


def job_card(job, manager) -> None:
    """One job: what it runs, its state or progress, Cancel (while active) or Watch, its latest epoch."""
    with st.container(border=True):
        title, state, action = st.columns([3, 4, 1], vertical_alignment="center")
        title.markdown(job_view.job_title(job))
        if job.state == "queued":
            state.markdown(f"{job_view.STATE_ICONS[job.state]} queued (position {job.queue_position})")
        elif job.state == "running":
            fraction, text = job_view.progress_bar(job)
            state.progress(fraction, text=text)
        else:
            state.markdown(job_view.ended_line(job))
            if job.error:
                state.error(plain_text.markdown(job.error))
        if job.is_active:
            own = job.may_be_cancelled_by(common.canceller())
            action.button("Cancel", key=f"cancel-{job.job_id}", on_click=manager.cancel, args=(job.job_id,),
                          kwargs={"visitor": common.canceller()}, disabled=not own,
                          help=None if own else "Launched by another visitor: only they can cancel it.")
        elif action.button("Watch", key=f"watch-{job.job_id}"):
            watch(job.job_id)
            st.rerun()  # the whole page: its address-bar sync then names the job, as for any other choice
        if job.epoch_history:
            st.caption(job_view.latest_epoch_line(job))


def jobs_panel(polling: bool):
    manager = common.job_manager()
    jobs = [job for job in manager.snapshots() if job.kind == "train"]
    if polling and not any(job.is_active for job in jobs):
        st.rerun()
    st.subheader("Jobs")
    if not jobs:
        st.caption("No runs launched in this server yet. Past runs are on the Runs page.")
        return
    for job in jobs:
        job_card(job, manager)
    # A job picked while active is followed from then on: the live view stays on it when it ends or
    # is cancelled instead of jumping to another run.
    job = job_view.job_to_watch(jobs, st.session_state.get("watched_job"))
    if job.is_active:
        st.session_state["watched_job"] = job.job_id
    watched = job.job_id
    st.subheader(f"Live view · {plain_text.markdown(job.name)} ({job.state})")
    if job.state == "running" and job.progress is not None:
        st.progress(job.fraction, text=f"{job.fraction:.0%} · elapsed {job_view.duration(job.elapsed_s)} · "
                                       f"ETA {job_view.duration(job.eta_s)}")
    last_step = job.batch_history[-1][0] if job.batch_history else 0
    curves_figure, batch_figures = live_charts(watched, len(job.epoch_history), last_step, len(job.batch_history), job)
    curves, batch_view = st.columns([3, 2])
    curves.plotly_chart(curves_figure, width="stretch", key=f"curves-{watched}")
    for name, figure in batch_figures.items():
        batch_view.plotly_chart(figure, width="stretch", key=f"{name}-{watched}")


@st.cache_resource(max_entries=8, show_spinner=False)
def live_charts(job_id: str, epochs_seen: int, last_step: int, points: int, _job):
    """The live view's figures, built once per state of the job's histories (the arguments before
    `_job` say which), so a view that has not changed is not rebuilt at every poll."""
    return job_view.live_figures(_job.epoch_history, _job.batch_history)
