"""The Train page's four tabs: each tab's settings on the left, on the right what they give (the
data, the network's layers, augmented examples, the planned learning rate), from `train_plan`."""

import contextlib

import streamlit as st

from app_pages import common
from app_pages.train_form import Form, key
from cnnkit.config import settings_on, split_warnings
from cnnkit.datasets import DATASETS, MAX_UPLOAD_BYTES, save_upload
from cnnkit.errors import InputError
from cnnkit.explorer import charts, plain_text, train_plan


@st.cache_resource(max_entries=3, show_spinner="Loading data…")
def cached_data(*data_settings):
    return train_plan.load_split(*data_settings)


@st.cache_data(max_entries=32, show_spinner=False)
def architecture_table(arch, input_shape, num_classes, activation, batch_norm, dropout_scale, width):
    return train_plan.layers(arch, input_shape, num_classes, activation, batch_norm, dropout_scale, width)


def network_table(arch, data, values: dict):
    """The layer table and parameter count of the form's network for `data` (cached)."""
    return architecture_table(arch.name, data.input_shape, data.num_classes,
                              *(values[name] for name in train_plan.NETWORK_SETTINGS))


@st.cache_data(max_entries=16, show_spinner=False)
def augmentation_preview(images, cfg_json):
    return train_plan.augmented_examples(images, cfg_json)


def store_upload() -> None:
    upload = st.session_state.get("upload")
    st.session_state.pop("upload_error", None)
    if upload is None:
        return
    try:
        dataset, path = save_upload(upload.getvalue(), upload.name, common.uploads_dir())
    except InputError as error:
        st.session_state["upload_error"] = str(error)
        return
    st.session_state[key("dataset")], st.session_state[key("dataset_path")] = dataset, str(path)


def data_tab(form: Form, data) -> None:
    left, right = st.columns([1, 2])
    with left:
        form.control("dataset")
        if DATASETS[form.values["dataset"]].needs_path:
            st.file_uploader(f"Upload a Kaggle-style CSV or a .zip of class folders (up to {MAX_UPLOAD_BYTES // 2**20} MB)",
                             type=["csv", "zip"], key="upload", on_change=store_upload)
            if "upload_error" in st.session_state:
                st.error(plain_text.markdown(st.session_state["upload_error"]))
        for setting in settings_on("data")[1:]:  # the rest, after the dataset and its upload box
            form.control(setting.name)
    with right:
        if data is None:
            st.info("The data could not be loaded: see the message under the setting on the left.")
            return
        counts = data.split_counts()
        columns = st.columns(4)
        columns[0].metric("Train", f"{counts['train']:,}")
        columns[1].metric("Validation", f"{counts['validation']:,}")
        columns[2].metric("Test", f"{counts['test']:,}")
        columns[3].metric("Input", "×".join(map(str, data.input_shape)))
        for warning in split_warnings(data):
            st.warning(plain_text.markdown(warning))
        st.plotly_chart(charts.class_distribution(train_plan.class_counts(data)), width="stretch")
        st.plotly_chart(charts.samples_by_class(data.x_train, data.y_train, list(data.class_names), per_class=6,
                                                seed=form.values["seed"]), width="stretch")


def model_tab(form: Form, arch, data) -> None:
    left, right = st.columns([1, 2])
    with left:
        form.control("arch")
        knobs = arch.default_knobs
        st.caption(f"{arch.description} Architecture defaults: {knobs.activation}, batch normalisation "
                   f"{'on' if knobs.batch_norm else 'off'}.")
        for setting in settings_on("model")[1:]:  # the rest, after the architecture and its description
            form.control(setting.name)
    with right:
        if data is None:
            st.info("Load a dataset to see the layers and parameter count for its image shape.")
            return
        try:
            table, total = network_table(arch, data, form.values)
            st.metric(f"Parameters for {data.name} ({'×'.join(map(str, data.input_shape))} → {data.num_classes} classes)",
                      f"{total:,}")
            st.dataframe(table, hide_index=True, width="stretch", height=420)
        except InputError as error:
            st.error(plain_text.markdown(error))


def tricks_tab(form: Form, data, cfg) -> None:
    left, right = st.columns([1, 2])
    with left:
        for setting in settings_on("tricks"):
            form.control(setting.name)
    with right:
        st.markdown("**Augmentation preview** — each row: the original, then five augmented versions (training only).")
        if data is not None and cfg is not None:
            images = augmentation_preview(data.x_train[train_plan.augmentation_picks(data)], cfg.to_json())
            st.plotly_chart(charts.image_grid(images, columns=1 + train_plan.AUGMENTED_COPIES), width="stretch")
        elif data is not None:
            st.caption("Fix the settings marked in red to see the preview.")


def optimiser_tab(form: Form, arch, data, cfg) -> None:
    left, right = st.columns([1, 2])
    with left:
        for setting in settings_on("optimiser"):
            form.control(setting.name)
        if cfg is not None and data is not None and cfg.snapshot_every:
            with contextlib.suppress(InputError):  # the Model tab says what is wrong with the network
                _, total = network_table(arch, data, form.values)
                st.caption(f":material/save: {train_plan.disk_note(cfg, total, data)}")
    with right:
        if data is None:
            st.info("The plan appears once the data loads: its steps per epoch depend on the number of training images.")
        elif cfg is None:
            st.caption("Fix the settings marked in red to see the planned learning rate.")
        else:
            steps, rates = train_plan.planned_learning_rate(cfg, len(data.x_train))
            st.plotly_chart(charts.learning_rate(range(1, len(rates) + 1), rates, epoch_length=steps,
                                                 title=f"Planned learning rate over {len(rates):,} steps"),
                            width="stretch")
            if cfg.schedule == "plateau":
                st.caption("Plateau cuts depend on the validation curve, so the plan shows the starting rate.")
