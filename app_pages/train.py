"""Train: pick data, a network and tricks; launch runs in the background and watch them live.

Every setting's control comes from its declaration in cnnkit/settings.py. The form lives in this
session's state and in the address bar (the non-default settings, and the job chosen to watch, as
query parameters), so a reload or a shared link brings it back.
"""

import contextlib
import math

import pandas as pd
import streamlit as st

from cnnkit.explorer import charts, plain_text
from cnnkit.tracking import run_schema
from cnnkit.training.accelerators import describe_devices
from cnnkit.models.architectures import build_model, get_architecture, layer_table, resolve_knobs
from cnnkit.config import (
    TrainConfig, changed_settings, describe_run, field_names, find_problems, is_optional, settings_from_text,
)
from cnnkit.config.data_loading import split_warnings
from cnnkit.datasets import DATASETS, MAX_UPLOAD_BYTES, save_upload
from cnnkit.errors import InputError
from cnnkit.jobs.slots import slots_set_by
from cnnkit.config.presets import PRESETS
from cnnkit.config.settings import SETTINGS, TABS, problem_counts, settings_on
from cnnkit.training.snapshot_plan import disk_budget
from cnnkit.config.data_loading import load_data
from cnnkit.models.filters import PREFILTER_DESCRIPTIONS
from cnnkit.training.tricks import augment_samples, schedule_preview
from app_pages.action_button import action_button
from app_pages.common import canceller, job_manager, run_store, uploads_dir, visitor
from app_pages.guard import guarded
from app_pages.search_panel import search_section

DEFAULTS = TrainConfig().to_dict()
DEFAULT_CHOICE = "default"  # the picker option for None (the architecture's own); a picker can't show None
DEFAULT_LABEL = "architecture default"  # what the architecture's defaults are, the caption under its picker says
WIDGETS = {"select": st.selectbox, "radio": st.radio, "slider": st.slider, "number": st.number_input,
           "checkbox": st.checkbox, "text": st.text_input}
JOB_PARAM = "job"  # query parameter: the job chosen with its Watch button, watched after a reload too
LR_TEST_INPUTS = ("dataset", "dataset_path", "image_size", "arch", "activation", "batch_norm", "dropout_scale", "width")
# The launch bar stays in view while the form scrolls. A tab's problems are marked after its label
# by CSS: a label that changes sends the reader back to the first tab, and stateful tabs (which could
# keep it open) would rerun the whole page on every switch.
BAR_STYLE = """div[data-testid="stLayoutWrapper"]:has(> div.st-key-launch_bar) {position: sticky; top: 3.75rem;
  z-index: 990; background: #fff; border-bottom: 1px solid rgba(49, 51, 63, 0.2); padding-bottom: 0.5rem;}"""
TAB_MARK_STYLE = """.st-key-train_tabs [data-testid="stTab"][data-key="{index}"] p::after {{content: " ({text})";
  color: #d33; font-weight: 600;}}"""
POLL_SECONDS = 1.0  # how often the jobs and range-test panels redraw while a job is queued or running


def key(field: str) -> str:
    return f"cfg.{field}"


def to_widget(field: str, value):
    return DEFAULT_CHOICE if value is None and SETTINGS[field].choices else value


def from_widget(field: str, value):
    return None if value == DEFAULT_CHOICE and is_optional(field) else value


def load_form(values: dict) -> None:
    """Put a config's values into the form (a preset, a run to relaunch, the address bar's settings)."""
    for field in field_names():
        st.session_state[key(field)] = to_widget(field, values.get(field, DEFAULTS[field]))


def form_values() -> dict:
    """The form's settings in config types. A control that is not shown keeps its last value."""
    kept = st.session_state.get("train_form", DEFAULTS)
    return {field: from_widget(field, st.session_state[key(field)]) if key(field) in st.session_state else kept[field]
            for field in field_names()}


def restore_form() -> None:
    """A run to relaunch, else this session's form, else (a reload or a shared link) the address bar's."""
    if "relaunch_config" in st.session_state:
        load_form(st.session_state.pop("relaunch_config"))
    elif "train_form" not in st.session_state:
        from_url, problems = settings_from_text(st.query_params.to_dict())
        load_form(from_url)
        st.session_state["train_form"] = {**DEFAULTS, **from_url}  # a rerun before this one ends keeps edits
        st.session_state["url_problems"] = [str(problem) for problem in problems]
        if manager.find(st.query_params.get(JOB_PARAM, "")) is not None:
            watch(st.query_params[JOB_PARAM])
    kept = st.session_state.get("train_form", DEFAULTS)
    for field in field_names():
        st.session_state.setdefault(key(field), to_widget(field, kept[field]))


def sync_address_bar(values: dict) -> None:
    """Non-default settings and the chosen job into the query string (only when they changed)."""
    wanted = changed_settings(values)
    if st.session_state.get("chosen_job"):
        wanted[JOB_PARAM] = st.session_state["chosen_job"]
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def watch(job_id: str) -> None:
    """Watch this job in the live view, now and after a reload (a job chosen with its Watch button):
    the page's full run that follows writes it into the address bar (`sync_address_bar`)."""
    st.session_state["watched_job"] = st.session_state["chosen_job"] = job_id


def job_to_watch(jobs: list):
    """The job this session watches (launched, chosen or followed), else the newest running one,
    else the newest queued, else the newest. A job picked while active is followed from then on:
    the live view stays on it when it ends or is cancelled instead of jumping to another run."""
    watched = st.session_state.get("watched_job")
    job = (next((job for job in jobs if job.job_id == watched), None)
           or next((job for job in jobs if job.state == "running"), None)
           or next((job for job in jobs if job.is_active), jobs[0]))
    if job.is_active:
        st.session_state["watched_job"] = job.job_id
    return job


def store_upload() -> None:
    upload = st.session_state.get("upload")
    st.session_state.pop("upload_error", None)
    if upload is None:
        return
    try:
        dataset, path = save_upload(upload.getvalue(), upload.name, uploads_dir())
    except InputError as error:
        st.session_state["upload_error"] = str(error)
        return
    st.session_state[key("dataset")], st.session_state[key("dataset_path")] = dataset, str(path)


@st.cache_resource(max_entries=3, show_spinner="Loading data…")
def cached_data(dataset, path, image_size, val_fraction, test_fraction, seed, train_limit):
    cfg = TrainConfig(dataset=dataset, dataset_path=path, image_size=image_size, val_fraction=val_fraction,
                      test_fraction=test_fraction, seed=seed, train_limit=train_limit)
    return load_data(cfg)


def form_data(values: dict):
    """(the form's data split, None) or (None, the InputError that stops it from loading)."""
    try:
        if values["dataset_path"]:
            server_paths.check(values["dataset_path"])  # before anything is read
        return cached_data(values["dataset"], values["dataset_path"], values["image_size"], values["val_fraction"],
                           values["test_fraction"], values["seed"], values["train_limit"]), None
    except InputError as error:
        return None, error


@st.cache_data(max_entries=32, show_spinner=False)
def architecture_table(arch, input_shape, num_classes, activation, batch_norm, dropout_scale, width):
    knobs = resolve_knobs(arch, activation, batch_norm, dropout_scale, width)
    model = build_model(arch, input_shape, num_classes, knobs)
    return pd.DataFrame(layer_table(model)), model.count_params()


@st.cache_data(max_entries=16, show_spinner=False)
def augmentation_preview(images, cfg_json):
    return augment_samples(TrainConfig.from_json(cfg_json), images, copies=5)


def is_shown(field: str, values: dict) -> bool:
    setting = SETTINGS[field]
    return setting.is_used(values) or bool(setting.unused_note)


def control(field: str) -> None:
    """A setting's control as cnnkit/settings.py declares it, with its problem right under it
    (from the page's `values`, `problems` and `choice_labels`)."""
    setting = SETTINGS[field]
    if not is_shown(field, values):
        return
    used, current = setting.is_used(values), to_widget(field, values[field])
    options = {"help": setting.help if used else f"{setting.help} {setting.unused_note}", "disabled": not used}
    if field == "dataset_path" and not server_paths.open_to_visitors:  # uploads still fill it in
        options.update(disabled=True, help="Off: this app is not served on localhost, so upload the file above.")
    # The current value doubles as the control's default: it changes no widget id (keyed widgets keep
    # theirs), and a control the browser draws afresh after a rerun that cut the previous one short
    # shows the form's value, not the first option or the minimum.
    if setting.control in ("select", "radio"):
        choices = [DEFAULT_CHOICE] * is_optional(field) + list(setting.allowed())
        options.update(options=choices, index=choices.index(current), format_func=choice_labels.get(field, str))
        options["horizontal"] = True if setting.control == "radio" else None
    else:
        options["value"] = current
    if setting.control in ("slider", "number"):
        low = setting.low if setting.off is None else min(setting.low, setting.off)
        options.update(min_value=low, max_value=setting.high, step=setting.step, format=setting.number_format)
    WIDGETS[setting.control](setting.form_label, key=key(field),
                             **{name: value for name, value in options.items() if value is not None or name == "value"})
    if field in problems:
        st.error(plain_text.markdown(problems[field]))


def page_style() -> str:
    """The launch bar's CSS and a mark on each tab with problems, e.g. "4 · Optimiser (1 problem)"."""
    marks = [TAB_MARK_STYLE.format(index=index, text=f"{count} problem{'s' * (count > 1)}")
             for index, count in enumerate(problem_counts(problems).values()) if count]
    return "<style>" + "\n".join([BAR_STYLE, *marks]) + "</style>"


def launch() -> None:
    values = form_values()
    name = st.session_state.get("run_name", "").strip()
    try:
        run_store().check_can_launch(manager.experiment)  # a team server's read-only user, before any job
        st.session_state["watched_job"] = manager.submit(TrainConfig.from_dict(values), name=name or None, visitor=visitor())
    except InputError as error:
        st.toast(f"Not launched: {plain_text.markdown(error)}")
        return
    st.session_state.pop("chosen_job", None)  # a reload then follows the newest running job
    st.session_state["run_name"] = ""
    st.toast(f"Queued {plain_text.markdown(name or describe_run(values))}.")


def find_learning_rate() -> None:
    try:
        st.session_state["lr_job"] = manager.submit_lr_find(TrainConfig.from_dict(form_values()), visitor=visitor())
    except InputError as error:
        st.toast(f"Not started: {plain_text.markdown(error)}")


def use_suggestion(lower: float, upper: float) -> None:
    st.session_state[key("learning_rate")], st.session_state[key("max_lr")] = lower, upper


def polled(panel, active: bool) -> None:
    """Draw `panel` as a fragment that redraws itself every POLL_SECONDS while `active` (a job is
    queued or running), and not at all otherwise: an idle page costs nothing. The panel gets
    `polling` and, once nothing it watches is active, calls for one full rerun, which turns it off."""
    st.fragment(guarded(f"the Train page's {panel.__name__}")(panel), run_every=POLL_SECONDS if active else None)(
        polling=active)


def lr_finder_panel(polling: bool) -> None:
    job = manager.find(st.session_state.get("lr_job") or "")
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
        st.button("Use this range (learning rate → low end, peak → high end)", on_click=use_suggestion,
                  args=(s.lower, s.upper))
    elif job.state == "cancelled":
        st.warning("Range test cancelled.")
    else:
        st.error(f"Range test failed: {plain_text.markdown(job.error)}")


# ---- page -------------------------------------------------------------------------------

manager = job_manager()
server_paths = manager.server_paths  # the app's one policy, which the manager applies to every job
restore_form()
values = form_values()
sync_address_bar(values)
arch = get_architecture(values["arch"])
choice_labels = {
    "dataset": lambda name: f"{name} — {DATASETS[name].description}",
    "arch": lambda name: f"{name} (seed {get_architecture(name).seed})",
    # One label for the default whatever the architecture: the browser sends a picker's label back, and
    # one naming the previous net's default ("… (off)") is no option of a net whose default is on.
    "activation": lambda v: DEFAULT_LABEL if v == DEFAULT_CHOICE else v,
    "batch_norm": lambda v: DEFAULT_LABEL if v == DEFAULT_CHOICE else ("on" if v else "off"),
    "prefilter": lambda v: f"{v}: {PREFILTER_DESCRIPTIONS[v]}",
}

st.title("Train")
st.caption(f"Training on **{describe_devices()}** · runs are logged to MLflow at `{manager.tracking_uri}`")
for message in st.session_state.pop("url_problems", []):
    st.warning(f"Left out of the address's settings: {plain_text.markdown(message)}")

with st.sidebar:
    st.subheader("Presets")
    preset = st.selectbox("Seed experiment", list(PRESETS), key="preset",
                          help="Load one of the write-ups' experiments into the form; you can still edit everything.")
    st.caption(PRESETS[preset].description)
    st.button("Load preset", on_click=lambda: load_form(PRESETS[st.session_state["preset"]].config().to_dict()),
              width="stretch")
    st.subheader("Jobs")
    slots, decided_by = manager.slots(), slots_set_by(manager)
    cap = st.number_input("Runs training at once", 1, max(8, slots), slots, disabled=decided_by is not None,
                          help=decided_by or "More launches wait in the queue until a slot frees up.")
    if decided_by is None and cap != manager.max_concurrent:
        manager.set_max_concurrent(int(cap))

# ---- the launch bar: what will run, what stops it, Launch -------------------------------

data, data_problem = form_data(values)  # after the title: a first load of MNIST takes seconds
problems = find_problems(values)
if data_problem is not None:  # a loader's own problem is the file's (when it reads one) or the dataset's
    at_fault = data_problem.field or ("dataset_path" if DATASETS[values["dataset"]].needs_path else "dataset")
    problems.setdefault(at_fault, data_problem)
cfg = None if problems else TrainConfig.from_dict(values)

st.html(page_style())
with st.container(key="launch_bar"):
    summary, name_column, launch_column, finder_column = st.columns([4.5, 2.5, 1.5, 1.5], vertical_alignment="bottom")
    summary.markdown(f"**{plain_text.markdown(describe_run(values))}**")
    if problems:
        where = ", ".join(f"**{SETTINGS[field].label}** ({TABS[SETTINGS[field].tab]})"
                          for field in sorted(problems, key=list(SETTINGS).index))
        summary.markdown(f":red[:material/error: {len(problems)} problem{'s' * (len(problems) > 1)} to fix: {where}]")
        for field, problem in problems.items():
            if not is_shown(field, values):
                summary.error(plain_text.markdown(problem))  # its control is hidden, so say it here
    else:
        summary.caption(f":material/check_circle: Ready: {data.split_counts()['train']:,} training images, "
                        f"{data.num_classes} classes.")
    reason = "Fix the problems listed on the left first." if problems else None
    name_column.text_input("Run name (optional)", key="run_name", placeholder=f"{values['arch']} on {values['dataset']}")
    action_button(launch_column, "Launch training", "train.launch", on_click=launch, type="primary",
                  disabled=cfg is None, width="stretch", help=reason)
    action_button(finder_column, "Find learning rate", "train.find_lr", on_click=find_learning_rate,
                  disabled=cfg is None, width="stretch",
                  help=reason or "Train briefly while the rate grows from 1e-6 to 1 and plot the loss "
                                 "(Smith's range test).")

data_tab, model_tab, tricks_tab, optimise_tab = st.tabs(list(TABS.values()), key="train_tabs")

with data_tab:
    left, right = st.columns([1, 2])
    with left:
        control("dataset")
        if DATASETS[values["dataset"]].needs_path:
            st.file_uploader(f"Upload a Kaggle-style CSV or a .zip of class folders (up to {MAX_UPLOAD_BYTES // 2**20} MB)",
                             type=["csv", "zip"], key="upload", on_change=store_upload)
            if "upload_error" in st.session_state:
                st.error(plain_text.markdown(st.session_state["upload_error"]))
        for setting in settings_on("data")[1:]:  # the rest, after the dataset and its upload box
            control(setting.name)
    with right:
        if data is not None:
            counts = data.split_counts()
            columns = st.columns(4)
            columns[0].metric("Train", f"{counts['train']:,}")
            columns[1].metric("Validation", f"{counts['validation']:,}")
            columns[2].metric("Test", f"{counts['test']:,}")
            columns[3].metric("Input", "×".join(map(str, data.input_shape)))
            for warning in split_warnings(data):
                st.warning(plain_text.markdown(warning))
            split_counts = pd.concat(
                pd.DataFrame({"split": split, "class": [data.class_names[i] for i in range(data.num_classes)],
                              "count": pd.Series(labels).value_counts().reindex(range(data.num_classes), fill_value=0).values})
                for split, labels in (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test))
            )
            st.plotly_chart(charts.class_distribution(split_counts), width="stretch")
            st.plotly_chart(charts.samples_by_class(data.x_train, data.y_train, list(data.class_names), per_class=6,
                                                    seed=values["seed"]), width="stretch")
        else:
            st.info("The data could not be loaded: see the message under the setting on the left.")

with model_tab:
    left, right = st.columns([1, 2])
    with left:
        control("arch")
        knobs = arch.default_knobs
        st.caption(f"{arch.description} Architecture defaults: {knobs.activation}, batch normalisation "
                   f"{'on' if knobs.batch_norm else 'off'}.")
        for setting in settings_on("model")[1:]:  # the rest, after the architecture and its description
            control(setting.name)
    with right:
        if data is not None:
            try:
                table, total = architecture_table(arch.name, data.input_shape, data.num_classes, values["activation"],
                                                  values["batch_norm"], values["dropout_scale"], values["width"])
                st.metric(f"Parameters for {data.name} ({'×'.join(map(str, data.input_shape))} → {data.num_classes} classes)", f"{total:,}")
                st.dataframe(table, hide_index=True, width="stretch", height=420)
            except InputError as error:
                st.error(plain_text.markdown(error))
        else:
            st.info("Load a dataset to see the layers and parameter count for its image shape.")

with tricks_tab:
    left, right = st.columns([1, 2])
    with left:
        for setting in settings_on("tricks"):
            control(setting.name)
    with right:
        st.markdown("**Augmentation preview** — each row: the original, then five augmented versions (training only).")
        if data is not None and cfg is not None:
            picks = [int((data.y_train == c).argmax()) for c in range(min(4, data.num_classes))]
            images = augmentation_preview(data.x_train[picks], cfg.to_json())  # keyed by these few images
            st.plotly_chart(charts.image_grid(images, columns=6), width="stretch")
        elif data is not None:
            st.caption("Fix the settings marked in red to see the preview.")

with optimise_tab:
    left, right = st.columns([1, 2])
    with left:
        for setting in settings_on("optimiser"):
            control(setting.name)
        if cfg is not None and data is not None and cfg.snapshot_every:
            with contextlib.suppress(InputError):  # the Model tab says what is wrong with the network
                _, total = architecture_table(arch.name, data.input_shape, data.num_classes, values["activation"],
                                              values["batch_norm"], values["dropout_scale"], values["width"])
                st.caption(f":material/save: {disk_budget(cfg, total, len(data.x_test), data.num_classes).describe()}")
    with right:
        if data is None:
            st.info("The plan appears once the data loads: its steps per epoch depend on the number of training images.")
        elif cfg is None:
            st.caption("Fix the settings marked in red to see the planned learning rate.")
        else:
            steps = math.ceil(len(data.x_train) / cfg.batch_size)
            rates = schedule_preview(cfg, steps)
            st.plotly_chart(charts.learning_rate(range(1, len(rates) + 1), rates, epoch_length=steps,
                                                 title=f"Planned learning rate over {len(rates):,} steps"),
                            width="stretch")
            if cfg.schedule == "plateau":
                st.caption("Plateau cuts depend on the validation curve, so the plan shows the starting rate.")

st.session_state["train_form"] = values

# ---- LR finder --------------------------------------------------------------------------

lr_job = manager.find(st.session_state.get("lr_job") or "")
if lr_job is not None and any(getattr(lr_job.config, field) != values[field] for field in LR_TEST_INPUTS):
    manager.cancel(lr_job.job_id)  # it was run for other data or another network: its result no longer applies
    del st.session_state["lr_job"]
elif lr_job is not None:
    polled(lr_finder_panel, active=lr_job.is_active)


# ---- jobs and the live view -------------------------------------------------------------

STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/directions_run:", "finished": ":material/check_circle:",
               "failed": ":material/error:", "cancelled": ":material/cancel:"}


def fmt_seconds(seconds) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def jobs_panel(polling: bool):
    jobs = [job for job in manager.snapshots() if job.kind == "train"]
    if polling and not any(job.is_active for job in jobs):
        st.rerun()
    st.subheader("Jobs")
    if not jobs:
        st.caption("No runs launched in this server yet. Past runs are on the Runs page.")
        return
    for job in jobs:
        with st.container(border=True):
            title, state, action = st.columns([3, 4, 1], vertical_alignment="center")
            title.markdown(f"**{plain_text.markdown(job.name)}**  \n{plain_text.markdown(describe_run(job.config.to_dict()))}"
                           + (f" · run `{job.run_id[:8]}`" if job.run_id else "")
                           + (f"  \n:material/memory: {job.device}" if job.device else ""))
            if job.state == "queued":
                state.markdown(f"{STATE_ICONS[job.state]} queued (position {job.queue_position})")
            elif job.state == "running":
                progress = job.progress
                if progress is not None and progress.pass_batches:  # validating or evaluating: that pass's own bar
                    state.progress(progress.pass_fraction, text=progress.describe())
                else:
                    detail = progress.describe() if progress else "starting"
                    state.progress(job.fraction, text=f"{detail} · ETA {fmt_seconds(job.eta_s)}")
            else:
                summary = f"{STATE_ICONS[job.state]} {job.state} after {fmt_seconds(job.elapsed_s)}"
                if job.state == "finished" and job.result is not None:
                    summary += f" · test accuracy {job.result.metrics.get(run_schema.TEST_ACCURACY, float('nan')):.2%}"
                state.markdown(summary)
                if job.error:
                    state.error(plain_text.markdown(job.error))
            if job.is_active:
                own = job.may_be_cancelled_by(canceller())
                action.button("Cancel", key=f"cancel-{job.job_id}", on_click=manager.cancel, args=(job.job_id,),
                              kwargs={"visitor": canceller()}, disabled=not own,
                              help=None if own else "Launched by another visitor: only they can cancel it.")
            elif action.button("Watch", key=f"watch-{job.job_id}"):
                watch(job.job_id)
                st.rerun()  # the whole page: its address-bar sync then names the job, as for any other choice
            if job.epoch_history:
                latest = job.epoch_history[-1]
                st.caption(" · ".join(f"{k} {v:.4g}" for k, v in latest.items() if k in run_schema.EPOCH_CURVES))

    job = job_to_watch(jobs)
    watched = job.job_id
    st.subheader(f"Live view · {plain_text.markdown(job.name)} ({job.state})")
    if job.state == "running" and job.progress is not None:
        st.progress(job.fraction, text=f"{job.fraction:.0%} · elapsed {fmt_seconds(job.elapsed_s)} · ETA {fmt_seconds(job.eta_s)}")
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
    epochs = pd.DataFrame(list(_job.epoch_history))
    batches = pd.DataFrame(list(_job.batch_history), columns=["step", *run_schema.BATCH_METRICS])
    if not len(batches):
        return charts.learning_curves(epochs), {}
    return charts.learning_curves(epochs), {
        "batch": charts.batch_loss(batches, smoothing=10),
        "lr": charts.learning_rate(batches["step"], batches[run_schema.BATCH_LR], title="Learning rate per step"),
    }


polled(jobs_panel, active=any(job.is_active for job in manager.snapshots() if job.kind == "train"))
search_section((lambda: cfg) if cfg is not None else None, values)
