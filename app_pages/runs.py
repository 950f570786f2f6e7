"""Runs: MLflow's runs a page at a time, filtered by the store; open one to see, manage or relaunch it."""

import pandas as pd
import streamlit as st

from cnnkit.experiments import export
from cnnkit.explorer import charts, plain_text, run_filter, selection
from cnnkit.tracking import run_schema
from cnnkit.training import checkpoint
from cnnkit.config import parse_assignments
from cnnkit.errors import InputError
from cnnkit.tracking.lineage import lineage_of
from cnnkit.config.settings import SETTINGS
from app_pages.action_button import action_button
from app_pages.common import job_manager, run_label, run_store, visitor

store = run_store()
st.title("Runs")


# The selection is kept by run id (SELECTED); the table widget (TABLE) only ever holds its positions
# in the rows last drawn (VIEW, ROWS), so filters, pages and refreshes can't point a tick at another run.
SELECTED, TABLE, VIEW, ROWS = "runs.selected", "runs.table", "runs.view", "runs.rows"
EXPORTED = "runs.exported"  # (run id, zip bytes, ONNX note) of the last export made on this page
# The store filters and pages the runs: PAGES holds the filter string and the page tokens up to the
# page shown ([None] for the first page), so Previous and Next walk them without loading every run.
PAGES = "runs.pages"


def ticked_selection() -> list[str]:
    """The selected run ids, after the ticks made in the rows last drawn; opens the latest pick."""
    selected = st.session_state.get(SELECTED, [])
    state = st.session_state.get(TABLE)
    if state is not None and list(state["selection"]["rows"]) != st.session_state.get(ROWS):
        selected = selection.after_ticks(selected, st.session_state.get(VIEW, []), state["selection"]["rows"])
        open_run(selected[-1] if selected else None)
    return selected


def open_run(run: str | None) -> None:
    """Open `run` below the table (None closes it); the page body redraws after the table."""
    if st.session_state.get("open_run") != run:
        st.session_state["open_run"] = run
        st.session_state["runs.reopen"] = True


def page_tokens(wanted: str) -> list[str | None]:
    """The tokens of the pages up to the one shown; back to the first page when the filter changed."""
    if st.session_state.get(PAGES, {}).get("filter") != wanted:
        st.session_state[PAGES] = {"filter": wanted, "tokens": [None]}
    return st.session_state[PAGES]["tokens"]


@st.fragment(run_every=5.0)
def runs_table():
    search, status, dataset, arch = st.columns([2, 1, 1, 1])
    text = search.text_input(run_filter.SEARCH_LABEL, key="runs.search",
                             help="Part of a run's name; the first 6 or more characters of its id; or a tag as "
                                  "name=value (name= for any value).")
    statuses = status.multiselect("Status", run_filter.STATUSES, key="runs.status")
    datasets = dataset.multiselect("Dataset", run_filter.dataset_choices(), key="runs.dataset")
    arches = arch.multiselect("Architecture", run_filter.arch_choices(), key="runs.arch")
    try:
        wanted = run_filter.filter_string(run_filter.RunFilter(text, tuple(statuses), tuple(datasets), tuple(arches)))
        tokens = page_tokens(wanted)
        page = store.runs_page(wanted, run_filter.PAGE_SIZE, tokens[-1])
    except InputError as error:
        st.error(plain_text.markdown(error))
        return
    shown = page.runs
    if shown.empty and not wanted and len(tokens) == 1:
        st.info("No runs yet. Launch one on the Train page, or with `python -m cnnkit train`.")
        st.session_state.pop("open_run", None)
        return
    picked = ticked_selection()
    chosen = store.runs_by_id(picked)  # the selected runs wherever they are, in one search
    picked = [run for run in picked if run in set(chosen["run_id"])]  # deleted meanwhile, here or in another tab
    st.session_state[SELECTED] = picked
    view = shown["run_id"].tolist()
    rows = selection.rows_of(picked, view)
    if st.session_state.get(TABLE) is None or list(st.session_state[TABLE]["selection"]["rows"]) != rows:
        st.session_state[TABLE] = {"selection": {"rows": rows}}
    st.session_state[VIEW], st.session_state[ROWS] = view, rows
    first = (len(tokens) - 1) * run_filter.PAGE_SIZE
    shown_runs = f"runs {first + 1}–{first + len(shown)} of {'more than ' if page.more else ''}{first + len(shown)}"
    st.caption(f"{shown_runs if len(shown) else 'No run matches the filters'} · newest first · tick a row to open "
               "it, several to compare · click a header to sort this page")
    st.dataframe(
        shown.drop(columns=["run_id"]),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=TABLE,
        column_config={
            run_schema.TEST_ACCURACY: st.column_config.NumberColumn("test acc", format="percent"),
            run_schema.VAL_ACCURACY: st.column_config.NumberColumn("val acc", format="percent"),
            "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f"),
            "start_time": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
        },
    )
    if len(tokens) > 1 or page.more:
        with st.container(horizontal=True):
            st.button("Previous", key="runs.previous", disabled=len(tokens) == 1, on_click=tokens.pop)
            st.button("Next", key="runs.next", disabled=not page.more, on_click=tokens.append, args=(page.next_token,))
    if picked:
        labels = {row.run_id: run_label(row) for row in chosen.itertuples()}
        selection_bar(picked, hidden=[run for run in picked if run not in set(view)], labels=labels)
    if st.session_state.pop("runs.reopen", False):
        st.rerun()


def selection_bar(picked: list[str], hidden: list[str], labels: dict[str, str]) -> None:
    """What is selected, what of it the filters or paging hide, and what to do with it."""
    message = f"{len(picked)} selected"
    if hidden:
        message += f" · {len(hidden)} hidden by the filters or on other pages: " + ", ".join(
            f"**{plain_text.markdown(labels[run])}**" for run in hidden)
        if st.session_state.get("open_run") in hidden:
            message += " (still open below)"
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(message, width="stretch")
        if len(picked) >= 2 and st.button(f"Compare the {len(picked)} selected runs", type="primary"):
            st.session_state["compare_runs"] = picked
            st.switch_page("app_pages/compare.py")
        if st.button("Clear selection"):
            st.session_state[SELECTED] = []
            open_run(None)
            st.rerun()


def fork_from_epoch(run_id: str) -> None:
    """Start a new run from one of this run's snapshots, with some settings changed."""
    snapshots = store.snapshot_epochs(run_id)
    if not snapshots:
        st.caption(":material/fork_right: No fork from an epoch: this run kept no snapshots (train with "
                   f"“{SETTINGS['snapshot_every'].label}” on).")
        return
    epoch_column, changes_column, button_column = st.columns([1, 3, 1], vertical_alignment="bottom")
    epoch = epoch_column.selectbox("Fork from epoch", snapshots, key=f"fork-epoch-{run_id}")
    text = changes_column.text_input("Changed settings (key=value, separated by spaces)", key=f"fork-changes-{run_id}",
                                     placeholder="e.g. learning_rate=0.0003 rotation=10 epochs=20",
                                     help="The fork starts from the snapshot's weights and optimizer state; its "
                                          "epochs continue from the snapshot's.")
    if button_column.button("Fork", width="stretch", key=f"fork-{run_id}"):
        try:
            job_manager().fork(run_id, epoch, parse_assignments(text.split()), visitor=visitor())
            st.success("Forking in a job: follow it on the Train page.")
        except InputError as error:
            st.error(plain_text.markdown(error))


runs_table()

run_id = st.session_state.get("open_run")
if run_id:
    try:
        run = store.run(run_id)
    except Exception:  # deleted meanwhile, or a store hiccup: say so instead of a traceback
        st.warning("That run is no longer in the store.")
        st.session_state.pop("open_run")
        st.stop()
    st.divider()
    st.subheader(f"{plain_text.markdown(run.name)} · {run.status}")
    st.caption(f"run `{run_id}` · fingerprint of its data `{run.tags.get(run_schema.DATA_FINGERPRINT_TAG, '–')[:16]}`")
    if run.tags.get(run_schema.ERROR_TAG):
        st.error(plain_text.markdown(run.tags[run_schema.ERROR_TAG]))
    if lineage := lineage_of(run.tags):
        st.caption(f":material/fork_right: Forked from run `{lineage.parent_run_id}` after its epoch {lineage.epoch}.")
    if run.status in ("KILLED", "FAILED") and checkpoint.exists(job_manager().tracking_uri, run_id):
        if action_button(st, "Resume", f"runs.resume-{run_id}", type="primary",
                         help="Continue this run in a job from its last completed epoch."):
            try:
                job_manager().resume(run_id, visitor=visitor())
                st.success("Resuming in a job: follow it on the Train page.")
            except InputError as error:
                st.error(plain_text.markdown(error))
    curves_tab, config_tab, manage_tab = st.tabs(["Curves", "Config", "Manage & relaunch"])
    with curves_tab:
        epochs, batches = store.run_history(run_id)
        metrics = {k: v for k, v in run.metrics.items() if k.startswith(run_schema.TEST_PREFIX)}
        if metrics:
            st.dataframe(pd.DataFrame([metrics]), hide_index=True, column_config={  # accuracies in %, as everywhere
                key: st.column_config.NumberColumn(key, format="percent") for key in metrics if key.endswith("accuracy")})
        st.plotly_chart(charts.learning_curves(epochs), width="stretch")
        if len(batches):
            left, right = st.columns(2)
            left.plotly_chart(charts.batch_loss(batches, smoothing=10), width="stretch")
            right.plotly_chart(charts.learning_rate(batches["step"], batches[run_schema.BATCH_LR], title="Learning rate per step"),
                               width="stretch")
    with config_tab:
        params = pd.DataFrame(sorted(run.params.items()), columns=["setting", "value"])
        st.dataframe(params, hide_index=True, width="stretch", height=400)
        st.json({k: v for k, v in run.tags.items() if not k.startswith("mlflow.")}, expanded=False)
    with manage_tab:
        rename, tag_key, tag_value = st.columns([2, 1, 1], vertical_alignment="bottom")
        new_name = rename.text_input("Name", value=run.name, key=f"name-{run_id}")
        key_text = tag_key.text_input("Tag", key=f"tag-key-{run_id}", placeholder="e.g. keep")
        value_text = tag_value.text_input("Value", key=f"tag-value-{run_id}", placeholder="e.g. yes")
        save, add_tag, relaunch, inspect, delete = st.columns(5)
        try:
            if save.button("Save name", width="stretch") and new_name != run.name:
                store.rename_run(run_id, new_name)
                st.rerun()
            if add_tag.button("Add tag", width="stretch"):
                store.set_run_tag(run_id, key_text, value_text)
                st.rerun()
        except InputError as error:
            st.error(plain_text.markdown(error))
        if relaunch.button("Edit & relaunch", type="primary", width="stretch",
                           help="Open this run's settings in the Train form, change what you like and launch."):
            try:
                st.session_state["relaunch_config"] = store.config_of_run(run_id).to_dict()
                st.switch_page("app_pages/train.py")
            except InputError as error:
                st.error(f"This run's settings can't be loaded: {plain_text.markdown(error)}")
        if inspect.button("Inspect", width="stretch", disabled=run.status != "FINISHED",
                          help="Feature maps, filters, probabilities and Grad-CAM for this run's model."):
            st.session_state["inspect_run"] = run_id
            st.switch_page("app_pages/inspect.py")
        if delete.toggle("Delete…", key=f"delete-{run_id}"):
            if st.button("Really delete this run", type="primary"):
                store.delete_run(run_id)
                st.session_state.pop("open_run")
                st.rerun()
        register_name, register = st.columns([3, 1], vertical_alignment="bottom")
        model_name = register_name.text_input(
            "Register this run's model as", key=f"register-{run_id}", value=f"{run.params.get('dataset', 'model')}-classifier",
            help="Adds a version to MLflow's Model Registry; the Classify page lists registered models first.")
        finished = run.status == "FINISHED"
        if register.button("Register model", width="stretch", disabled=not finished,
                           help=None if finished else "Only a finished run has a model to register."):
            try:
                version = store.register_model(run_id, model_name)
                st.success(f"Registered as {plain_text.markdown(version.name)} version {version.version}.")
            except InputError as error:
                st.error(plain_text.markdown(error))
        versions = store.registered_models(run_id=run_id)
        if versions:
            st.caption("Registered as " + ", ".join(f"{plain_text.markdown(v.name)} v{v.version}" for v in versions) + ".")
        if st.button("Export", disabled=not finished,
                     help="The .keras model, an ONNX copy checked with onnxruntime and a model card, in one zip."
                     if finished else "Only a finished run has a model to export."):
            try:
                with st.spinner("Exporting: the model, its ONNX copy checked on test images, the model card…"):
                    st.session_state[EXPORTED] = (run_id, *export.export_zip(store, run_id))
            except InputError as error:
                st.error(plain_text.markdown(error))
        if st.session_state.get(EXPORTED, ("",))[0] == run_id:
            _, archive, onnx_note = st.session_state[EXPORTED]
            st.download_button("Download the export (zip)", archive, file_name=f"{run_id}.zip", mime="application/zip",
                               on_click="ignore", type="primary")
            st.caption(onnx_note)
        fork_from_epoch(run_id)
        user_tags = {k: v for k, v in run.tags.items() if not k.startswith(run_schema.RESERVED_TAG_PREFIXES)}
        for tag, value in user_tags.items():
            shown_tag, remove = st.columns([4, 1])
            shown_tag.markdown(f"{plain_text.markdown(tag)} = {plain_text.markdown(value)}")
            if remove.button("Remove", key=f"untag-{tag}"):
                store.delete_run_tag(run_id, tag)
                st.rerun()
        if job_manager().recovered_runs:
            st.caption(f"{len(job_manager().recovered_runs)} run(s) left RUNNING by a stopped process were marked KILLED at start.")
