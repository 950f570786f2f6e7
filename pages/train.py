"""Train: pick data, a network and tricks; launch runs in the background and watch them live."""

import math

import pandas as pd
import streamlit as st

from cnnkit import charts
from cnnkit.accelerators import describe_devices
from cnnkit.architectures import ARCHITECTURES, build_model, get_architecture, layer_table, resolve_knobs
from cnnkit.architectures import ACTIVATIONS
from cnnkit.config import (
    CYCLIC_MODES, FLIPS, MONITORS, NORMALIZATIONS, OPTIMIZERS, PRECISIONS, PREFILTERS, SCHEDULES, TrainConfig,
    field_names,
)
from cnnkit.datasets import DATASETS, MAX_UPLOAD_BYTES, save_upload
from cnnkit.errors import InputError
from cnnkit.presets import PRESETS
from cnnkit.training import load_data
from cnnkit.tricks import PREFILTER_DESCRIPTIONS, augment_samples, schedule_preview
from pages.common import job_manager, uploads_dir
from pages.guard import guarded

DEFAULTS = TrainConfig().to_dict()
POLL_SECONDS = 1.0  # how often the jobs and range-test panels redraw while a job is queued or running
slots: dict = {}  # field -> placeholder right under its control, for validation messages


def key(field: str) -> str:
    return f"cfg.{field}"


def load_form(values: dict) -> None:
    """Put a config's values into the form (a preset, or a run to relaunch)."""
    for field in field_names():
        st.session_state[key(field)] = values.get(field, DEFAULTS[field])


def control(widget, field: str, label: str, help: str, **kwargs):
    """A form control bound to a config field, with a slot under it for its error."""
    value = widget(label, key=key(field), help=help, **kwargs)
    slots[field] = st.empty()
    return value


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


@st.cache_data(max_entries=32, show_spinner=False)
def architecture_table(arch, input_shape, num_classes, activation, batch_norm, dropout_scale, width):
    knobs = resolve_knobs(arch, activation, batch_norm, dropout_scale, width)
    model = build_model(arch, input_shape, num_classes, knobs)
    return pd.DataFrame(layer_table(model)), model.count_params()


@st.cache_data(max_entries=16, show_spinner=False)
def augmentation_preview(_images, data_key, cfg_json):
    return augment_samples(TrainConfig.from_json(cfg_json), _images, copies=5)


# ---- page -------------------------------------------------------------------------------

manager = job_manager()
if "relaunch_config" in st.session_state:
    load_form(st.session_state.pop("relaunch_config"))
for field in field_names():
    st.session_state.setdefault(key(field), st.session_state.get("train_form", DEFAULTS).get(field, DEFAULTS[field]))

st.title("Train")
st.caption(f"Training on **{describe_devices()}** · runs are logged to MLflow at `{manager.tracking_uri}`")

with st.sidebar:
    st.subheader("Presets")
    preset = st.selectbox("Seed experiment", list(PRESETS), key="preset",
                          help="Load one of the write-ups' experiments into the form; you can still edit everything.")
    st.caption(PRESETS[preset].description)
    st.button("Load preset", on_click=lambda: load_form(PRESETS[st.session_state["preset"]].config().to_dict()),
              width="stretch")
    st.subheader("Jobs")
    cap = st.number_input("Runs training at once", 1, 8, manager.max_concurrent,
                          help="More launches wait in the queue until a slot frees up.")
    if cap != manager.max_concurrent:
        manager.set_max_concurrent(int(cap))

data_tab, model_tab, tricks_tab, optimise_tab = st.tabs(["1 · Data", "2 · Model", "3 · Tricks", "4 · Optimiser"])

with data_tab:
    left, right = st.columns([1, 2])
    with left:
        control(st.selectbox, "dataset", "Dataset", "Which images to learn from.", options=list(DATASETS),
                format_func=lambda name: f"{name} — {DATASETS[name].description}")
        if DATASETS[st.session_state[key("dataset")]].needs_path:
            st.file_uploader(f"Upload a Kaggle-style CSV or a .zip of class folders (up to {MAX_UPLOAD_BYTES // 2**20} MB)",
                             type=["csv", "zip"], key="upload", on_change=store_upload)
            if "upload_error" in st.session_state:
                st.error(st.session_state["upload_error"])
            control(st.text_input, "dataset_path", "…or a path on this machine",
                    "A CSV file, a folder with one sub-folder per class, or a zip of such folders.")
            if st.session_state[key("dataset")] == "folder":
                control(st.number_input, "image_size", "Image side (pixels)",
                        "Folder images are resized with padding to this square size (0 = 64).", min_value=0, max_value=1024)
        control(st.slider, "val_fraction", "Validation share", "Share of the training pool held out to watch overfitting.",
                min_value=0.0, max_value=0.5, step=0.01)
        control(st.slider, "test_fraction", "Test share", "Share of all images kept for the final test "
                "(ignored when the dataset has an official test split).", min_value=0.05, max_value=0.5, step=0.01)
        control(st.number_input, "train_limit", "Limit images per split (0 = all)",
                "Train on a stratified subset for quick experiments.", min_value=0, step=500)
        control(st.number_input, "seed", "Seed", "Fixes the split, the initial weights and the augmentation.",
                min_value=0, step=1)
    with right:
        values = {field: st.session_state[key(field)] for field in field_names()}
        data = None
        try:
            data = cached_data(values["dataset"], values["dataset_path"], values["image_size"], values["val_fraction"],
                               values["test_fraction"], values["seed"], values["train_limit"])
        except InputError as error:
            slots["dataset"].error(str(error))
        if data is not None:
            counts = data.split_counts()
            columns = st.columns(4)
            columns[0].metric("Train", f"{counts['train']:,}")
            columns[1].metric("Validation", f"{counts['validation']:,}")
            columns[2].metric("Test", f"{counts['test']:,}")
            columns[3].metric("Input", "×".join(map(str, data.input_shape)))
            split_counts = pd.concat(
                pd.DataFrame({"split": split, "class": [data.class_names[i] for i in range(data.num_classes)],
                              "count": pd.Series(labels).value_counts().reindex(range(data.num_classes), fill_value=0).values})
                for split, labels in (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test))
            )
            st.plotly_chart(charts.class_distribution(split_counts), width="stretch")
            st.plotly_chart(charts.samples_by_class(data.x_train, data.y_train, list(data.class_names), per_class=6,
                                                    seed=values["seed"]), width="stretch")

with model_tab:
    left, right = st.columns([1, 2])
    with left:
        control(st.selectbox, "arch", "Architecture", "The network to train.", options=list(ARCHITECTURES),
                format_func=lambda name: f"{name} (seed {ARCHITECTURES[name].seed})")
        arch = get_architecture(st.session_state[key("arch")])
        st.caption(arch.description)
        default = arch.default_knobs
        control(st.selectbox, "activation", "Activation", "The non-linearity after each conv and hidden dense layer.",
                options=[None, *ACTIVATIONS], format_func=lambda v: f"architecture default ({default.activation})" if v is None else v)
        control(st.selectbox, "batch_norm", "Batch normalisation", "Normalise activations after each layer; trains faster and steadier.",
                options=[None, True, False], format_func=lambda v: f"architecture default ({'on' if default.batch_norm else 'off'})" if v is None else ("on" if v else "off"))
        control(st.number_input, "dropout_scale", "Dropout scale (empty = default)",
                "Multiplies every dropout rate of the network; 0 turns dropout off.", min_value=0.0, max_value=5.0, step=0.1)
        control(st.number_input, "width", "Width multiplier (empty = default)",
                "Multiplies the number of filters and hidden units.", min_value=0.05, max_value=8.0, step=0.25)
    with right:
        if data is not None:
            try:
                table, total = architecture_table(arch.name, data.input_shape, data.num_classes,
                                                  st.session_state[key("activation")], st.session_state[key("batch_norm")],
                                                  st.session_state[key("dropout_scale")], st.session_state[key("width")])
                st.metric(f"Parameters for {data.name} ({'×'.join(map(str, data.input_shape))} → {data.num_classes} classes)", f"{total:,}")
                st.dataframe(table, hide_index=True, width="stretch", height=420)
            except InputError as error:
                st.error(str(error))
        else:
            st.info("Load a dataset to see the layers and parameter count for its image shape.")

with tricks_tab:
    left, right = st.columns([1, 2])
    with left:
        control(st.radio, "normalization", "Normalisation", "scale: pixels to 0–1; standardize: each image centred, unit std "
                "(seed 000); none: raw 0–255.", options=list(NORMALIZATIONS), horizontal=True)
        control(st.selectbox, "prefilter", "Kernel pre-filter", "A fixed image filter applied to every input (seed 003).",
                options=list(PREFILTERS), format_func=lambda v: f"{v}: {PREFILTER_DESCRIPTIONS[v]}")
        control(st.selectbox, "flip", "Random flips", "Mirror training images at random (not for digits!).", options=list(FLIPS))
        control(st.slider, "rotation", "Random rotation (degrees)", "Rotate training images by up to ± this angle.",
                min_value=0.0, max_value=180.0, step=1.0)
        control(st.slider, "zoom", "Random zoom", "Zoom training images in or out by up to this fraction.",
                min_value=0.0, max_value=0.5, step=0.01)
        control(st.slider, "translate", "Random shift", "Shift training images by up to this fraction of their size.",
                min_value=0.0, max_value=0.5, step=0.01)
        control(st.number_input, "pad_crop", "Pad and crop (pixels)", "Pad by this many pixels and crop back at a random offset.",
                min_value=0, max_value=64)
        control(st.slider, "label_smoothing", "Label smoothing", "Soften the one-hot targets so the net is less over-confident.",
                min_value=0.0, max_value=0.5, step=0.01)
        control(st.checkbox, "test_time_flip", "Test-time flip", "Test predictions average each image and its mirror "
                "image (for pictures that may be mirrored, not digits).")
    with right:
        st.markdown("**Augmentation preview** — each row: the original, then five augmented versions (training only).")
        if data is not None:
            preview_values = {f: st.session_state[key(f)] for f in field_names()}
            try:
                preview_cfg = TrainConfig.from_dict(preview_values)
                picks = [int((data.y_train == c).argmax()) for c in range(min(4, data.num_classes))]
                images = augmentation_preview(data.x_train[picks], (data.name, data.fingerprint()), preview_cfg.to_json())
                st.plotly_chart(charts.image_grid(images, columns=6), width="stretch")
            except InputError:
                st.caption("Fix the settings marked in red to see the preview.")

with optimise_tab:
    left, right = st.columns([1, 2])
    with left:
        control(st.selectbox, "optimizer", "Optimizer", "sgd: plain or momentum SGD; rmsprop/adam: adaptive steps; "
                "adamw: Adam with decoupled weight decay.", options=list(OPTIMIZERS))
        control(st.number_input, "learning_rate", "Learning rate", "Step size; the starting rate for schedules.",
                min_value=0.0, max_value=10.0, format="%g", step=1e-4)
        control(st.number_input, "momentum", "Momentum (sgd)", "Keeps part of the previous step's direction.",
                min_value=0.0, max_value=0.999, step=0.05)
        control(st.number_input, "weight_decay", "Weight decay (adamw)", "Shrinks weights a little every step.",
                min_value=0.0, max_value=1.0, format="%g", step=1e-4)
        control(st.number_input, "batch_size", "Batch size", "Images per optimizer step.", min_value=1, max_value=65536)
        control(st.number_input, "epochs", "Epochs", "Passes over the training set.", min_value=1, max_value=100000)
        control(st.number_input, "early_stopping", "Early stopping patience (0 = off)",
                "Stop after this many epochs without a better validation loss, keeping the best weights.", min_value=0)
        control(st.number_input, "ema_momentum", "Weight averaging (EMA momentum, 0 = off)",
                "Keep an exponential moving average of the weights and finish with it (0.99–0.9999).",
                min_value=0.0, max_value=0.99999, format="%g", step=0.001)
        control(st.selectbox, "precision", "Precision", "mixed_bfloat16 / mixed_float16 compute in 16 bits with float32 "
                "weights and output: up to ~1.6x faster at large batches on a GPU; float16 adds loss scaling.",
                options=list(PRECISIONS))
        control(st.number_input, "steps_per_execution", "Steps per execution", "Optimizer steps per call into the "
                "compiled train step; more can help small models on a GPU. Batch losses are then logged per execution.",
                min_value=1, max_value=10_000)
        control(st.selectbox, "schedule", "Learning-rate schedule", "constant; plateau: cut the rate when progress stalls "
                "(seeds 001/002); cyclic: Smith's cyclical rates (seed 000); one_cycle; cosine decay.", options=list(SCHEDULES))
        with st.expander("Schedule settings"):
            control(st.number_input, "max_lr", "Peak rate (cyclic, one-cycle)", "The highest rate the schedule reaches.",
                    min_value=0.0, max_value=10.0, format="%g", step=1e-3)
            control(st.selectbox, "cyclic_mode", "Cyclic mode", "triangular: same cycle; triangular2: amplitude halves "
                    "each cycle; exp_range: amplitude decays by gamma each step.", options=list(CYCLIC_MODES))
            control(st.number_input, "cycle_epochs", "Half-cycle (epochs)", "Epochs from the low rate to the peak (Smith: 2–8).",
                    min_value=0.1, max_value=1000.0, step=0.5)
            control(st.number_input, "cyclic_gamma", "exp_range gamma", "Per-step decay of the cycle's amplitude.",
                    min_value=0.9, max_value=1.0, format="%.5f", step=1e-5)
            control(st.selectbox, "plateau_monitor", "Plateau: watch", "Which metric must stop improving.", options=list(MONITORS))
            control(st.number_input, "plateau_factor", "Plateau: multiply rate by", "Applied when the metric stalls.",
                    min_value=0.01, max_value=0.99, step=0.05)
            control(st.number_input, "plateau_patience", "Plateau: patience (epochs)", "Epochs to wait before cutting.",
                    min_value=0, max_value=1000)
            control(st.number_input, "min_lr", "Lowest rate (plateau, cosine, one-cycle end)", "The floor of the schedule.",
                    min_value=0.0, max_value=10.0, format="%g", step=1e-5)
    with right:
        values = {field: st.session_state[key(field)] for field in field_names()}
        try:
            cfg = TrainConfig.from_dict(values)
        except InputError:
            cfg = None  # the message is shown next to its control below
        if cfg is not None:
            steps = math.ceil((len(data.x_train) if data is not None else 1000) / cfg.batch_size)
            rates = schedule_preview(cfg, steps)
            st.plotly_chart(charts.learning_rate(range(1, len(rates) + 1), rates, epoch_length=steps,
                                                 title=f"Planned learning rate over {len(rates):,} steps"),
                            width="stretch")
            if cfg.schedule == "plateau":
                st.caption("Plateau cuts depend on the validation curve, so the plan shows the starting rate.")

# ---- validate, launch, LR finder --------------------------------------------------------

values = {field: st.session_state[key(field)] for field in field_names()}
st.session_state["train_form"] = values
launch_slot = st.empty()
cfg, problem = None, None
try:
    cfg = TrainConfig.from_dict(values)
except InputError as error:
    problem = error
    slots.get(error.field, launch_slot).error(str(error))

name_column, launch_column, finder_column = st.columns([2, 1, 1], vertical_alignment="bottom")
run_name = name_column.text_input("Run name (optional)", placeholder=f"{values['arch']} on {values['dataset']}")
if launch_column.button("Launch training", type="primary", disabled=cfg is None, width="stretch"):
    job_id = manager.submit(cfg, name=run_name or None)
    st.session_state["watched_job"] = job_id
    st.toast(f"Queued {run_name or cfg.arch}.")
if finder_column.button("Find learning rate", disabled=cfg is None, width="stretch",
                        help="Train briefly while the rate grows from 1e-6 to 1 and plot the loss (Smith's range test)."):
    st.session_state["lr_job"] = manager.submit_lr_find(cfg)
if problem is not None:
    st.warning(f"Fix this before launching — {problem}")


def use_suggestion(lower: float, upper: float) -> None:
    st.session_state[key("learning_rate")], st.session_state[key("max_lr")] = lower, upper


def polled(panel, active: bool) -> None:
    """Draw `panel` as a fragment that redraws itself every POLL_SECONDS while `active` (a job is
    queued or running), and not at all otherwise: an idle page costs nothing. The panel gets
    `polling` and, once nothing it watches is active, calls for one full rerun, which turns it off."""
    st.fragment(guarded(f"the Train page's {panel.__name__}")(panel), run_every=POLL_SECONDS if active else None)(
        polling=active)


def lr_finder_panel(polling: bool):
    job = manager.find(st.session_state.get("lr_job", ""))
    if polling and (job is None or not job.is_active):
        st.rerun()
    if job is None:
        return
    st.subheader("Learning-rate range test")
    if job.state in ("queued", "running"):
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
        st.error(f"Range test failed: {job.error}")


lr_job = manager.find(st.session_state.get("lr_job", ""))
polled(lr_finder_panel, active=lr_job is not None and lr_job.is_active)


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
            title.markdown(f"**{job.name}**  \n`{job.config.arch}` on `{job.config.dataset}`"
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
                    summary += f" · test accuracy {job.result.metrics.get('test_accuracy', float('nan')):.2%}"
                state.markdown(summary)
                if job.error:
                    state.error(job.error)
            if job.is_active:
                action.button("Cancel", key=f"cancel-{job.job_id}", on_click=manager.cancel, args=(job.job_id,))
            elif action.button("Watch", key=f"watch-{job.job_id}"):
                st.session_state["watched_job"] = job.job_id
            if job.epoch_history:
                latest = job.epoch_history[-1]
                st.caption(" · ".join(f"{k} {v:.4g}" for k, v in latest.items() if k in
                                      ("loss", "accuracy", "val_loss", "val_accuracy", "lr")))

    job = manager.find(st.session_state.get("watched_job", "")) or jobs[0]
    watched = job.job_id
    st.subheader(f"Live view · {job.name} ({job.state})")
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
    batches = pd.DataFrame(list(_job.batch_history), columns=["step", "batch_loss", "batch_lr"])
    if not len(batches):
        return charts.learning_curves(epochs), {}
    return charts.learning_curves(epochs), {
        "batch": charts.batch_loss(batches, smoothing=10),
        "lr": charts.learning_rate(batches["step"], batches["batch_lr"], title="Learning rate per step"),
    }


polled(jobs_panel, active=any(job.is_active for job in manager.snapshots() if job.kind == "train"))
