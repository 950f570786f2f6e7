"""What every page shares: the process-wide job manager, the run store, cached run data."""

from collections.abc import Iterable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cnnkit import tracking
from cnnkit.experiments import time_travel
from cnnkit.explorer import ModelCache, plain_text, run_pickers, view_address
from cnnkit.models import inspection
from cnnkit.tracking import run_schema
from cnnkit.errors import InputError
from cnnkit.jobs import JobManager, make_remote_runner, runner_setting, visitor_cap_from_environment
from cnnkit.config import SETTINGS, ServerPaths


@st.cache_resource
def job_manager() -> JobManager:
    """One manager per server process: jobs outlive reruns, refreshes, page changes and tabs. Its
    training jobs go where CNNKIT_RUNNER says (this process's threads unless it names a Ray cluster), and
    every job's dataset path must be one the app's visitors may name (`ServerPaths.for_app`), whichever
    page starts it."""
    uri = tracking.default_tracking_uri()
    return JobManager(tracking_uri=uri, max_active_per_visitor=visitor_cap_from_environment(),
                      runner=make_remote_runner(runner_setting(), uri),
                      server_paths=ServerPaths.for_app(st.get_option("server.address"), uploads_dir()))


def visitor() -> str:
    """Who launches a job, for the per-visitor cap: the browser's address, or, where that is this
    machine (one person's own app) or unknown, the browser tab's session."""
    address = st.context.ip_address
    if isinstance(address, str) and address not in ("127.0.0.1", "::1"):  # None on this machine, a mock in AppTest
        return f"address {address}"
    return f"session {get_script_run_ctx().session_id}"


def canceller() -> str | None:
    """Who cancels: another machine's browser may cancel only its own jobs; on this machine (the
    operator's own) any job, from any tab."""
    me = visitor()
    return me if me.startswith("address ") else None


def run_store() -> tracking.RunStore:
    """Every read and write of runs a page makes goes through this store object; pages never see MLflow."""
    return tracking.RunStore(job_manager().tracking_uri)


def uploads_dir():
    return tracking.default_store_dir() / "uploads"


def run_label(row) -> str:
    """How a run is named in pickers: its name plus the start of its id (names repeat)."""
    return run_pickers.run_label(row.name, row.run_id)


PICKER_TTL_S = 5  # a picker's runs are read again after this: a run that finishes shows up within it


@st.cache_data(ttl=PICKER_TTL_S, max_entries=32, show_spinner=False)
def _offered_runs(tracking_uri: str, text: str) -> run_pickers.PickerRuns:
    """`run_pickers.offered_runs`; `tracking_uri` keys the cache by store."""
    return run_pickers.offered_runs(run_store(), text)


@st.cache_data(ttl=PICKER_TTL_S, max_entries=32, show_spinner=False)
def _finished_by_id(tracking_uri: str, run_ids: tuple[str, ...]):
    return run_pickers.finished_by_id(run_store(), run_ids)


def picker_runs(key: str, chosen: Iterable[str | None] = (), at_least: int = 1,
                none_yet: str = "No finished runs yet. Launch one on the Train page.") -> run_pickers.PickerRuns:
    """The finished runs the run picker `key` offers, newest first: the newest few, or those the
    "Find a run" box drawn here (when the store has more) finds in the store, and always the runs in
    `chosen` (ids). Read once per `PICKER_TTL_S`, not on every rerun. Stops the page with `none_yet`
    while the store holds fewer than `at_least` finished runs."""
    uri = job_manager().tracking_uri
    newest = _offered_runs(uri, "")
    if len(newest.runs) < at_least:
        st.info(none_yet)
        st.stop()
    offered, text = newest, ""
    if newest.more or st.session_state.get(f"{key}.find"):  # only a store with runs beyond the picker's needs a search
        text = st.text_input(run_pickers.FIND_LABEL, key=f"{key}.find", placeholder="name or run id",
                             help=run_pickers.FIND_HELP).strip()
    if text:
        try:
            offered = _offered_runs(uri, text)
        except InputError as error:
            st.error(plain_text.markdown(error))
        if offered.runs.empty:
            st.caption(f"No finished run is named like “{plain_text.markdown(text)}” or has an id starting so; the newest are offered.")
            offered = newest
    return run_pickers.with_chosen(offered, chosen, lambda run_ids: _finished_by_id(uri, run_ids))


def picked_run(key: str) -> str | None:
    """The run behind the current label of picker `key`, whose options are labels, not run ids (so
    it can mix runs with other choices): read from the choices `remember_choices` kept last run."""
    return st.session_state.get(f"{key}.choices", {}).get(st.session_state.get(key))


def remember_choices(key: str, choices: dict[str, str]) -> dict[str, str]:
    """Picker `key`'s choices (label -> run id), kept for `picked_run`; returned as they are."""
    st.session_state[f"{key}.choices"] = choices
    return choices


def model_choices(key: str) -> dict[str, str]:
    """picker label -> run id for the model picker `key`: registered model versions first, then the
    finished runs `picker_runs` offers (the picked one kept, whatever a search or newer runs push out).

    Only versions of finished cnnkit runs are offered: a version whose run was deleted, or that
    another tool registered, has no cnnkit model to load."""
    versions = run_store().registered_models()
    runs = picker_runs(key, [picked_run(key), *(version.run_id for version in versions)]).labels
    registered = {f"{version.name} v{version.version} (registered, {runs[version.run_id]})": version.run_id
                  for version in versions if version.run_id in runs}
    return remember_choices(key, registered | {label: run_id for run_id, label in runs.items()})


@st.cache_data(max_entries=64, show_spinner=False)
def cached_snapshot_epochs(run_id: str) -> list[int]:
    """The epochs a finished run kept snapshots after (a finished run's never change)."""
    return run_store().snapshot_epochs(run_id)


@st.cache_data(max_entries=32, show_spinner=False)
def _corruption_table(run_id: str, mean_accuracy: float | None, images: float | None):
    return run_store().corruption_table(run_id)


def cached_corruption_table(run_id: str, metrics: dict[str, float]):
    """The run's latest corruption sweep table (None: no sweep), read once per sweep rather than at every
    rerun: keyed by the sweep's metrics (`metrics`: the run's), which a new sweep logs again."""
    return _corruption_table(run_id, metrics.get(run_schema.CORRUPTION_MEAN_ACCURACY),
                             metrics.get(run_schema.CORRUPTION_IMAGES))


@st.cache_data(max_entries=16, show_spinner="Loading the snapshot's test predictions…")
def cached_snapshot_probabilities(run_id: str, epoch: int):
    return run_store().snapshot_probabilities(run_id, epoch)


@st.cache_data(max_entries=32, show_spinner="Loading the run's evaluation…")
def cached_evaluation(run_id: str, epoch: int | None = None):
    """The run's evaluation, or with `epoch` the one its snapshot after that epoch gives (time travel)."""
    if epoch is None:
        return run_store().evaluation_of_run(run_id)
    split = cached_test_split(run_id)
    return time_travel.evaluation_at_epoch(cached_snapshot_probabilities(run_id, epoch), split.y_test,
                                           split.x_test, cached_evaluation(run_id).class_names)


@st.cache_resource(max_entries=4, show_spinner="Reloading the run's test images…")
def _test_split(fingerprint: str, _run_id: str):
    return run_store().test_split_of_run(_run_id)


def cached_test_split(run_id: str):
    """The run's exact data split; runs that saw the same data share one cached copy."""
    fingerprint = run_store().run(run_id).tags.get(run_schema.DATA_FINGERPRINT_TAG, run_id)
    return _test_split(fingerprint, run_id)


@st.cache_resource
def model_cache() -> ModelCache:
    """Loaded (and warmed-up) models of this server process, shared by every visitor."""
    store = run_store()  # made here, on the script's thread: the loads run on the cache's own thread

    def load_and_warm_up(key):
        model = store.load_model(key) if isinstance(key, str) else store.load_snapshot_model(*key)
        inspection.warm_up(model)
        return model
    return ModelCache(load_and_warm_up, max_entries=4)


def model_key(run_id: str, epoch: int | None = None):
    """The model cache's key of a run's model: its id, or (id, epoch) for its snapshot after that epoch."""
    return run_id if epoch is None else (run_id, epoch)


def cached_model(run_id: str, epoch: int | None = None):
    return model_cache().get(model_key(run_id, epoch))


def run_model(run_id: str, epoch: int | None = None):
    """The run's model (its snapshot after `epoch`), or an error message and a stopped page."""
    try:
        with st.spinner("Loading the model…"):
            return cached_model(run_id, epoch)
    except InputError as error:
        st.error(plain_text.markdown(error))
        st.stop()


def run_evaluation(run_id: str, epoch: int | None = None):
    """The run's evaluation (at a snapshot's `epoch`), or an error message and a stopped page."""
    try:
        return cached_evaluation(run_id, epoch)
    except InputError as error:
        st.error(plain_text.markdown(error))
        st.stop()


def run_model_and_evaluation(run_id: str):
    """The run's model and evaluation, or an error message and a stopped page."""
    model_cache().prefetch(run_id)  # loads while the evaluation is read
    evaluation = run_evaluation(run_id)
    return run_model(run_id), evaluation


def kept_key(key: str, default) -> str:
    """`key` for a widget on a tab drawn only while it is open (`st.tabs(..., on_change="rerun")`),
    whose pick outlives the tab's closing: Streamlit forgets a widget that a run does not draw, so
    its last value is kept under a key of its own and given back when the tab opens again. The
    widget then takes no default of its own (`default` is its first value)."""
    kept = f"{key}.kept"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, default)
    st.session_state[kept] = st.session_state[key]
    return key


FINAL = view_address.FINAL  # the epoch sliders' last stop, spelled as in the address bar: the finished run


def epoch_slider(snapshots: list[int], key: str, whose: str = "this run", where=st,
                 last_epoch: int | None = None) -> int | None:
    """An epoch slider over snapshot epochs (its value: an epoch, or None for the finished runs), or a
    one-line caption saying why there is none. With `last_epoch` (the epochs the run trained) the
    snapshot after it and the finished run are one stop, "N (final)": one model, one label."""
    stops = [epoch for epoch in snapshots if epoch != last_epoch]
    if not stops:
        why = "kept no snapshots" if not snapshots else "kept a snapshot of its last epoch only"
        where.caption(f":material/history: No epoch slider: {whose} {why} (train with "
                      f"“{SETTINGS['snapshot_every'].label}” on to rewind a run).")
        return None
    final = FINAL if last_epoch is None else f"{last_epoch} ({FINAL})"
    picked = where.select_slider("Epoch", [*stops, FINAL], value=FINAL, key=key,
                                 format_func=lambda epoch: final if epoch == FINAL else f"{epoch}",
                                 help="Rewind to the model and test predictions kept after that epoch; "
                                      f"“{final}” is the finished run.")
    return None if picked == FINAL else int(picked)
