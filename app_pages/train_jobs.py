"""The Train page's job panels: the learning-rate range test's result, and the list of training
jobs with the live view of the one followed. Each redraws itself only while a job is active."""

import streamlit as st

from app_pages import common
from app_pages.guard import guarded
from app_pages.train_form import use_range, watch
from cnnkit.explorer import charts, job_view, plain_text

POLL_SECONDS = 1.0  # how often the jobs and range-test panels redraw while a job is queued or running
ENDED_SHOWN = 20  # ended jobs drawn in the folded list, newest first: a search of hundreds isn't redrawn every poll


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


def job_card(job, manager, watched: str | None) -> None:
    """One job: what it runs, its state or progress, Watch (or Watching) and, while it is active,
    Cancel (Cancelling… from the click on), its latest epoch."""
    with st.container(border=True):
        title, state, watch_column, cancel_column = st.columns([3, 4, 1, 1], vertical_alignment="center")
        title.markdown(job_view.job_title(job))
        if job.state == "queued":
            state.markdown(f"{job_view.STATE_ICONS[job.state]} queued (position {job.queue_position})")
        elif job.state == "running":
            fraction, text = job_view.progress_bar(job)
            state.progress(fraction, text=text)
        else:
            state.markdown(job_view.ended_line(job))
            if note := job_view.end_note(job):  # a cancelled job's reason is a note, not an error
                (state.error if job.state == "failed" else state.caption)(plain_text.markdown(note))
        if job.job_id == watched:
            watch_column.button("Watching", key=f"watch-{job.job_id}", disabled=True, width="stretch",
                                help="This job is in the live view.")
        else:  # only this panel reruns: the live view is drawn after the cards
            watch_column.button("Watch", key=f"watch-{job.job_id}", on_click=watch, args=(job.job_id,), width="stretch",
                                help="Follow this job in the live view, also after a reload.")
        if job.is_active:
            own = job.may_be_cancelled_by(common.canceller())
            cancel_column.button("Cancelling…" if job.cancel_requested else "Cancel", key=f"cancel-{job.job_id}",
                                 on_click=manager.cancel, args=(job.job_id,), kwargs={"visitor": common.canceller()},
                                 disabled=job.cancel_requested or not own, width="stretch",
                                 help=None if own else "Launched by another visitor: only they can cancel it.")
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
    # A job followed while active stays followed: the live view stays on it when it ends or is
    # cancelled instead of jumping to another run.
    job = job_view.job_to_watch(jobs, st.session_state.get("watched_job"), common.canceller())
    if job is not None and job.is_active:
        st.session_state["watched_job"] = job.job_id
    watched = job.job_id if job is not None else None
    active, ended = [job for job in jobs if job.is_active], [job for job in jobs if not job.is_active]
    for each in active:
        job_card(each, manager, watched)
    if not active:
        st.caption("No job queued or running.")
    if job is None:
        st.caption("Press **Watch** on a job to follow it here.")
    else:
        live_view(job)
    if ended:
        # Folded, so the active jobs, the live view and what follows stay near the top; the key keeps
        # it open while the count in its label changes.
        with st.expander(f"{len(ended)} ended job{'s' * (len(ended) > 1)}", key="ended_jobs", icon=":material/history:"):
            for each in ended[:ENDED_SHOWN]:
                job_card(each, manager, watched)
            if len(ended) > ENDED_SHOWN:
                st.caption(f"… and {len(ended) - ENDED_SHOWN} older, on the Runs page.")


def live_view(job) -> None:
    """The watched job's bar (or how it ended) and its curves, batch loss and learning rate so far."""
    st.subheader(f"Live view · {plain_text.markdown(job.name)} ({job_view.state_word(job)})")
    if job.state == "running" and job.progress is not None:
        st.progress(job.fraction, text=job_view.live_bar_text(job))
    elif not job.is_active:
        st.caption(job_view.ended_line(job))
    last_step = job.batch_history[-1][0] if job.batch_history else 0
    x_axis = charts.X_AXES[st.radio("x axis", list(charts.X_AXES), horizontal=True, key="train.x_axis")]
    curves_figure, batch_figures = live_charts(job.job_id, len(job.epoch_history), last_step, len(job.batch_history),
                                               x_axis, job)
    curves, batch_view = st.columns([3, 2])
    curves.plotly_chart(curves_figure, width="stretch", key=f"curves-{job.job_id}")
    for name, figure in batch_figures.items():
        batch_view.plotly_chart(figure, width="stretch", key=f"{name}-{job.job_id}")


@st.cache_resource(max_entries=8, show_spinner=False)
def live_charts(job_id: str, epochs_seen: int, last_step: int, points: int, x_axis: str, _job):
    """The live view's figures, built once per state of the job's histories and x axis (the arguments
    before `_job` say which), so a view that has not changed is not rebuilt at every poll."""
    return job_view.live_figures(_job.epoch_history, _job.batch_history, x=x_axis)
