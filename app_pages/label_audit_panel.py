"""Inspect's label issues of the training split: a label audit of the run's settings (k fold runs, each without
one fold of the training examples) picked from the store or started here, its progress and cancel, its missing
folds trained again, and once every fold's held-out examples are predicted, its suspects."""

import streamlit as st

from cnnkit.errors import InputError
from cnnkit.experiments import label_audit
from cnnkit.explorer import label_issues, plain_text
from app_pages.action_button import action_button
from app_pages.common import canceller, job_manager, run_store, visitor

POLL_SECONDS = 2.0


@st.cache_resource
def launches() -> label_audit.AuditLaunches:
    """audit id -> LabelAuditLaunch, for this server process: an audit outlives reruns and tabs, and every
    visitor sees its progress."""
    return label_audit.AuditLaunches()


@st.cache_data(max_entries=32, show_spinner=False)
def cached_config(run_id: str):
    """A run's settings (their example lists are artifacts to download) never change: read once per run, not at
    every rerun of the tab."""
    return run_store().config_of_run(run_id)


@st.cache_data(ttl=10, show_spinner=False)
def cached_audits(run_id: str):
    """The store's audits of the run's settings (read again every 10 s: folds finish)."""
    return label_issues.audits_of(run_store(), cached_config(run_id))


@st.cache_data(max_entries=8, show_spinner="Ranking the audit's suspects…")
def cached_audit_issues(audit_id: str, run_ids: tuple[str, ...]):
    """An audit's suspects never change once its folds' predictions are logged (`run_ids` follow a retrain)."""
    return label_issues.stored_audit_issues(run_store(), list(run_ids))


def started_here(run_id: str) -> dict[str, str]:
    """The audits of this run started in this process (the store may not hold their queued folds yet), with
    their progress as it is now."""
    config = cached_config(run_id)
    return {audit_id: f"{launch.audit.name} · {audit_id[:6]} · {launch.progress().finished} of {launch.audit.folds} "
                      "folds finished" for audit_id, launch in launches().items()
            if label_audit.is_audit_of(config, launch.audit.base)}


def start_panel(run_id: str, expanded: bool) -> None:
    with st.expander("Start a label audit of this run's settings", expanded=expanded):
        st.caption("k runs of this run's settings, each trained without one k-th of its training examples, which "
                   "its model then predicts: every training example gets a probability from a model that never "
                   "saw it. The runs queue on the Train page's job manager, like an ablation's.")
        folds = int(st.number_input(label_audit.FOLDS_LABEL, label_audit.MIN_FOLDS, label_audit.MAX_FOLDS, 3,
                                    key=f"inspect.label_audit_folds.{run_id}",
                                    help="Runs to train; 3 to 5 are usual. More folds: each model sees more "
                                         "training examples, and the audit takes longer."))
        if action_button(st, "Start the label audit", f"inspect.label_audit_start.{run_id}", type="primary"):
            try:
                audit = label_audit.plan_label_audit(cached_config(run_id), folds)
                launches()[audit.audit_id] = label_audit.LabelAuditLaunch(audit, job_manager(), visitor(),
                                                                          store=run_store())
            except InputError as error:
                st.error(plain_text.markdown(error))
                return
            st.session_state[f"inspect.label_audit.{run_id}"] = audit.audit_id
            cached_audits.clear()
            st.rerun()


def watch(audit_id: str, polling: bool) -> None:
    """The audit's progress while its folds train or are predicted, with a Cancel button."""
    launch = launches().get(audit_id)
    if launch is None:
        return
    progress, busy = launch.progress(), launch.busy
    if polling and not busy:
        st.rerun()  # the whole tab: the suspects or the missing folds below
    st.progress(progress.ended / progress.total, text=f"{plain_text.markdown(launch.audit.name)} · fold "
                f"runs: {progress.describe()}")
    if launch.collecting:
        st.caption("Every fold has finished: its model is predicting the training examples it left out…")
    if launch.error:
        st.error(f"The rest of the audit could not be queued: {plain_text.markdown(launch.error)}")
    if launch.collect_error:
        st.error(f"The held-out examples could not be predicted: {plain_text.markdown(launch.collect_error)}")
    if busy:
        own = launch.may_be_cancelled_by(canceller())
        st.button("Cancel the audit", key=f"inspect.label_audit_cancel.{audit_id}", on_click=launch.cancel,
                  kwargs={"visitor": canceller()}, disabled=not own,
                  help=None if own else "Launched by another visitor: only they can cancel it.")


def complete(run_id: str, audit_id: str, label: str, help_text: str) -> None:
    """A button that trains the audit's missing folds again (none: predicts its held-out examples)."""
    if action_button(st, label, f"inspect.label_audit_resume.{audit_id}", help=help_text):
        try:
            started = launches().start(audit_id, lambda: label_audit.resume_label_audit(
                run_store(), audit_id, job_manager(), visitor(),
                base_excluded=cached_config(run_id).exclude_examples))
        except InputError as error:
            st.error(plain_text.markdown(error))
            return
        if not started:
            st.info("Already started by another visitor's click: the audit is under way.")
            return
        st.rerun()


def show(run_id: str):
    """Draw the audit picker, the start panel and the chosen audit's state. The audit's suspects, the number of
    training examples it audited and its id once it is complete; else None."""
    try:
        audits, here = cached_audits(run_id), started_here(run_id)
    except InputError as error:  # the run's settings can't be read: no audit of them to find or start
        st.info(plain_text.markdown(error))
        return None
    names = {row.label_audit_id: f"{row.label_audit} · {row.label_audit_id[:6]} · {row.finished} of {row.folds} "
                                 f"folds finished · started {row.started:%Y-%m-%d %H:%M}" for row in audits.itertuples()}
    names = {**here, **{key: name for key, name in names.items() if key not in launches()}}
    start_panel(run_id, expanded=not names)
    if not names:
        st.info("No label audit of this run's settings yet: start one above.")
        return None
    key = f"inspect.label_audit.{run_id}"
    if st.session_state.get(key) not in names:
        st.session_state.pop(key, None)
    audit_id = st.selectbox("Label audit", list(names), format_func=names.get, key=key)
    launch = launches().get(audit_id)
    polling = bool(launch and launch.busy)
    st.fragment(watch, run_every=POLL_SECONDS if polling else None)(audit_id, polling)
    if polling:
        return None
    try:
        stored = label_audit.stored_audit(run_store(), audit_id)
    except InputError as error:
        st.info(plain_text.markdown(error))
        return None
    if stored.missing:
        missing = ", ".join(str(fold + 1) for fold in stored.missing)
        st.warning(f"Fold{'s' * (len(stored.missing) > 1)} {missing} of {stored.folds} did not finish (failed or "
                   "cancelled): the audit needs every fold's run.")
        complete(run_id, audit_id, "Retrain the missing folds", "Train only the folds without a finished run, "
                 "under this audit; the finished ones are kept.")
        return None
    try:
        table, audited = cached_audit_issues(audit_id, tuple(stored.finished[fold] for fold in range(stored.folds)))
    except InputError:
        st.info("Every fold has finished, but not every fold's held-out examples were predicted (the app stopped "
                "first, or the predictions were cancelled).")
        complete(run_id, audit_id, "Predict the held-out examples", "Each fold's model predicts the training "
                 "examples it left out; nothing is trained again.")
        return None
    return table, audited, audit_id
