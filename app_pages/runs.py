"""Runs: MLflow's runs a page at a time, filtered by the store; open one to see, manage or relaunch it."""

import pandas as pd
import streamlit as st

from cnnkit.explorer import accuracy_intervals, charts, plain_text, run_filter, selection
from cnnkit.tracking import lineage_of, run_schema
from cnnkit.training import checkpoint
from cnnkit.errors import InputError
from app_pages.action_button import action_button
from app_pages.calibration_panel import run_calibration_section
from app_pages.common import job_manager, run_label, run_store, visitor
from app_pages.corruption_panel import corruption_section
from app_pages.report_card_panel import report_card_section
from app_pages.runs_manage import manage_panel
from app_pages.system_panel import system_section

store = run_store()
st.title("Runs")


# The selection is kept by run id (SELECTED); the table widget (TABLE) only ever holds its positions
# in the rows last drawn (VIEW, ROWS), so filters, pages and refreshes can't point a tick at another run.
SELECTED, TABLE, VIEW, ROWS = "runs.selected", "runs.table", "runs.view", "runs.rows"
# The store filters and pages the runs: PAGES holds the filter string and the page tokens up to the
# page shown ([None] for the first page), so Previous and Next walk them without loading every run.
PAGES = "runs.pages"
DIGEST = "runs.digest"  # the dataset digest filter, which an open run's "Runs trained on the same data" sets


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
    search, status, dataset, arch, digest = st.columns([2, 1, 1, 1, 1])
    text = search.text_input(run_filter.SEARCH_LABEL, key="runs.search",
                             help="Part of a run's name; the first 6 or more characters of its id; or a tag as "
                                  "name=value (name= for any value).")
    statuses = status.multiselect("Status", run_filter.STATUSES, key="runs.status")
    datasets = dataset.multiselect("Dataset", run_filter.dataset_choices(), key="runs.dataset")
    arches = arch.multiselect("Architecture", run_filter.arch_choices(), key="runs.arch")
    data = digest.text_input(run_filter.DIGEST_LABEL, key=DIGEST,
                             help="The digest MLflow shows for a run's data: runs trained on the same data, split the "
                                  "same way, share their training digest. An open run's 'Runs trained on the same "
                                  "data' fills it in.")
    try:
        wanted = run_filter.filter_string(run_filter.RunFilter(text, tuple(statuses), tuple(datasets), tuple(arches),
                                                               data))
        tokens = page_tokens(wanted)
        page = store.runs_page(wanted, run_filter.PAGE_SIZE, tokens[-1])
    except InputError as error:
        st.error(plain_text.markdown(error))
        return
    shown = accuracy_intervals.with_test_interval(page.runs)
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
    # The store pages the runs newest first; a header click sorts the page in the browser, out of the page's
    # sight: the caption claims the pages' order, never the rows'.
    st.caption(f"{shown_runs if len(shown) else 'No run matches the filters'} · pages go from the newest run to "
               "the oldest · tick a row to open it, several to compare · click a header to sort this page")
    st.dataframe(
        shown.drop(columns=["run_id"]),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=TABLE,
        column_config={
            "name": st.column_config.TextColumn("name", width="medium", help="Click a cell to read a long name whole."),
            run_schema.TEST_ACCURACY: st.column_config.NumberColumn("test acc", format="percent"),
            accuracy_intervals.TEST_INTERVAL: st.column_config.TextColumn("test acc 95 % interval",
                                                                          help=accuracy_intervals.HELP),
            run_schema.VAL_ACCURACY: st.column_config.NumberColumn("val acc", format="percent",
                                                                   help="After the last epoch."),
            run_schema.CORRUPTION_MEAN_ACCURACY: st.column_config.NumberColumn(
                "mCA", format="percent", help="Mean corruption accuracy: the open run's corruption sweep."),
            **{key: st.column_config.NumberColumn(
                f"to {threshold:.0%}".replace("%", " %"), format="%.0f s",
                help=f"Seconds of training until validation accuracy first reached {threshold:.0%} (None: never, "
                     "or trained before cnnkit timed it; Streamlit writes a missing number so).") for threshold, key in zip(
                run_schema.VAL_ACCURACY_THRESHOLDS, run_schema.TIME_TO_METRICS)},
            "tricks": st.column_config.TextColumn("tricks", width="medium"),
            "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f"),
            "start_time": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
            "tags": st.column_config.TextColumn("tags", width="small"),
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
    if run.data_digest:
        st.button("Runs trained on the same data", key="runs.same_data", on_click=st.session_state.__setitem__,
                  args=(DIGEST, run.data_digest), help=f"List the runs whose training data digest is {run.data_digest}.")
    if run.tags.get(run_schema.ERROR_TAG):  # a cancelled (KILLED) run's note is no error
        (st.error if run.status == "FAILED" else st.warning)(plain_text.markdown(run.tags[run_schema.ERROR_TAG]))
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
    card_tab, curves_tab, calibration_tab, config_tab, manage_tab = st.tabs(
        ["Report card", "Curves", "Calibration", "Config", "Manage & relaunch"])
    with card_tab:
        report_card_section(run)
    with curves_tab:
        epochs, batches = store.run_history(run_id)
        metrics = {k: v for k, v in run.metrics.items() if k.startswith(run_schema.TEST_PREFIX)}
        if metrics:
            st.dataframe(pd.DataFrame([metrics]), hide_index=True, column_config={  # accuracies in %, as everywhere
                key: st.column_config.NumberColumn(key, format="percent") for key in metrics if key.endswith("accuracy")})
            st.caption(accuracy_intervals.run_interval(run.metrics, run.test_images) or accuracy_intervals.NO_INTERVAL)
        x_axis = st.radio("x axis", list(charts.X_AXES), horizontal=True, key="runs.x_axis")
        st.plotly_chart(charts.learning_curves(epochs, x=charts.X_AXES[x_axis]), width="stretch")
        if len(batches):
            left, right = st.columns(2)
            left.plotly_chart(charts.batch_loss(batches, smoothing=10), width="stretch")
            right.plotly_chart(charts.learning_rate(batches["step"], batches[run_schema.BATCH_LR], title="Learning rate per step"),
                               width="stretch")
        system_section(store, {run_id: run.name})
        corruption_section(run)
    with calibration_tab:
        run_calibration_section(run_id, run.status)
    with config_tab:
        params = pd.DataFrame(sorted(run.params.items()), columns=["setting", "value"])
        st.dataframe(params, hide_index=True, width="stretch", height=400)
        st.json({k: v for k, v in run.tags.items() if not k.startswith("mlflow.")}, expanded=False)
    with manage_tab:
        manage_panel(store, run_id, run)
