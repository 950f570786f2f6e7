"""Inspect: one run in depth: dashboard, feature maps, filters, probabilities and Grad-CAM."""

import numpy as np
import streamlit as st

from cnnkit.experiments import time_travel
from cnnkit.explorer import charts, plain_text, view_address
from cnnkit.models import inspection
from cnnkit.errors import InputError
from app_pages import address_bar, inspect_embedding, inspect_label_issues, inspect_neighbours
from app_pages.inspect_classes import class_accuracy_view
from app_pages.common import (
    FINAL, cached_snapshot_epochs, cached_test_split, epoch_slider, kept_key, model_cache, model_key, picker_runs,
    run_evaluation, run_model, run_store,
)

store = run_store()
st.title("Inspect a run")
TABS = ["Dashboard", "Feature maps", "Filters", "Probabilities", "Grad-CAM", "Label issues", "Neighbours", "Embedding"]
SOURCES = ("misclassified", "test set")
view = address_bar.linked_view("inspect", {  # a reload's or a shared link's view
    "run": view_address.run_id, "epoch": view_address.epoch, "tab": view_address.one_of(TABS),
    "from": view_address.one_of(SOURCES), "image": view_address.whole_number(0, 10**7), "layer": view_address.name})
if "tab" in view:
    st.session_state["inspect.tab"] = view["tab"]

preselected = st.session_state.get("inspect_run")  # a run opened from the Runs page
labels = picker_runs("inspect.run", [st.session_state.get("inspect.run"), preselected, view.get("run")]).labels
if "run" in view:
    if view["run"] in labels:
        st.session_state["inspect.run"] = view["run"]
    else:
        st.caption(plain_text.markdown(view_address.gone_note([view["run"]], labels)))
run_id = st.selectbox("Run", list(labels), index=list(labels).index(preselected) if preselected in labels else 0,
                      format_func=labels.get, key="inspect.run")


def run_key(name: str) -> str:
    """A widget key of this run: another run's picks are other widgets, which start from their own
    defaults (its layers, its images) instead of stale picks, and Streamlit forgets the old ones."""
    return f"inspect.{name}.{run_id}"


def tab_key(name: str, default) -> str:
    """`run_key` for a widget on a tab: its pick outlives the tab's closing (`kept_key`)."""
    return kept_key(run_key(name), default)


@st.cache_data(max_entries=64, show_spinner=False)
def final_snapshot_epoch(run_id: str) -> int | None:
    """Read once per finished run (the pickers offer only those), not at every interaction."""
    run = store.run(run_id)
    return time_travel.final_snapshot_epoch(run.params, run.metrics)


snapshots, last_epoch = cached_snapshot_epochs(run_id), final_snapshot_epoch(run_id)
if "epoch" in view and (view["epoch"] in snapshots or view["epoch"] is None):  # a link's last epoch is "final"
    st.session_state[run_key("epoch")] = FINAL if view["epoch"] in (None, last_epoch) else view["epoch"]
epoch = epoch_slider(snapshots, run_key("epoch"), last_epoch=last_epoch)  # None: the finished run
evaluation = run_evaluation(run_id, epoch)
names = evaluation.class_names
try:
    split = cached_test_split(run_id)
except InputError as error:
    split = None
    st.warning(f"{plain_text.markdown(error)} Views that need the test images are limited to the misclassified ones "
               "kept with the run.")
test_count = 0 if split is None else len(split.x_test)


@st.cache_data(max_entries=64, show_spinner="Computing feature maps…")
def maps_for(run: str, at_epoch: int | None, image_key: str, _image: np.ndarray, _model) -> dict:
    """Feature maps are computed once per run, epoch and image, then reused for every layer view."""
    return inspection.feature_maps(_model, _image)


@st.cache_data(max_entries=16, show_spinner="Classifying test images…")
def test_probabilities(run: str, at_epoch: int | None, indices: tuple[int, ...], _model) -> np.ndarray:
    """Probabilities of the run's test images at `indices` (a run's test split never changes)."""
    return inspection.predict_probabilities(_model, cached_test_split(run).x_test[list(indices)])


# Only the open tab is drawn (a stateful tab set reruns the page when another opens): switching the
# run then rebuilds one tab's figures, not all 24. A tab's picks start from their defaults when it opens.
(dashboard_tab, maps_tab, filters_tab, probabilities_tab, cam_tab, issues_tab, neighbours_tab,
 embedding_tab) = st.tabs(TABS, key="inspect.tab", on_change="rerun")


def linked_layer(name: str, layers) -> str:
    """`tab_key` of the layer picker `name`, given the layer a link names when this run has it."""
    if view.get("layer") in layers:
        address_bar.restore(run_key(name), view["layer"])
    return tab_key(name, layers[0] if name == "filter_layer" else layers[-1])

if dashboard_tab.open:
    with dashboard_tab:
        epochs, _ = store.run_history(run_id)
        left, right = st.columns([3, 2])
        left.plotly_chart(charts.learning_curves(epochs), width="stretch")
        right.plotly_chart(charts.confusion_matrix(evaluation.confusion, names, normalize=True), width="stretch")
        strip = evaluation.mistakes[evaluation.mistakes["index"].isin(list(evaluation.mistake_images))].head(10)
        if len(strip):
            captions = [f"true: {names[t]}\npred: {names[p]} {c:.0%}" for t, p, c in
                        zip(strip["true"], strip["predicted"], strip["confidence"])]
            st.plotly_chart(charts.gallery(np.stack([evaluation.mistake_images[i] for i in strip["index"]]), captions,
                                           columns=10, correct=[False] * len(strip), title="Most confident mistakes"),
                            width="stretch")
        else:
            st.caption("No misclassified test images.")
        class_accuracy_view(evaluation)
        tested = int(evaluation.confusion.sum())
        if tested < len(names):
            st.warning(f"This run was tested on {tested} image{'s' * (tested != 1)}, fewer than its {len(names)} "
                       "classes: its test scores say little. Give it more with a larger “Test share” (1 · Data).")

# One chosen image drives the feature maps and Grad-CAM.
with st.sidebar:
    st.subheader("Image to inspect")
    mistakes = [i for i in evaluation.mistakes["index"].tolist() if i in evaluation.mistake_images]
    sources = ([SOURCES[0]] if mistakes else []) + ([SOURCES[1]] if test_count else [])
    image, index, source = None, None, None
    if view.get("from") in sources:
        st.session_state[run_key("source")] = view["from"]
        if view.get("image") in (mistakes if view["from"] == SOURCES[0] else range(test_count)):
            st.session_state[run_key("mistake" if view["from"] == SOURCES[0] else "index")] = view["image"]
    if not sources:
        st.info("This run has no test images to pick from.")
    elif (source := st.radio("Pick from", sources, key=run_key("source"), horizontal=True)) == SOURCES[0]:
        true_class = evaluation.mistakes.set_index("index")["true"]
        index = st.selectbox("Test image #", mistakes, key=run_key("mistake"),
                             format_func=lambda i: f"#{i}: {names[int(true_class[i])]}")
        image = evaluation.mistake_images[index]
    else:
        index = st.number_input("Test image #", 0, test_count - 1, 0, key=run_key("index"))
        image = split.x_test[index]
    if image is not None:
        st.image(image if image.shape[-1] == 3 else image[..., 0], caption=f"test image #{index}", width=160)
no_image = "No image to inspect: this run has no test images."

if maps_tab.open:
    with maps_tab:
        if image is None:
            st.info(no_image)
        else:
            maps = maps_for(run_id, epoch, f"{index}", image, run_model(run_id, epoch))
            layer_names = list(maps)
            picked = st.multiselect("Layers", layer_names, key=tab_key("layers", layer_names))
            for layer in picked:
                st.plotly_chart(charts.feature_map_grid(maps[layer], layer), width="stretch", key=f"maps-{layer}")

if filters_tab.open:
    with filters_tab:
        model = run_model(run_id, epoch)
        conv_layers = inspection.conv_layer_names(model)
        if not conv_layers:
            st.info("This model has no conv layers, so no filters to show.")
        else:
            layer = st.selectbox("Conv layer", conv_layers, key=linked_layer("filter_layer", conv_layers))
            kernels = inspection.filters(model, layer)
            st.plotly_chart(charts.image_grid(kernels, columns=16, title=f"{layer}: {len(kernels)} filters"),
                            width="stretch")

if probabilities_tab.open:
    with probabilities_tab:
        if split is None:
            st.caption("Needs the run's test images.")
        elif not test_count:
            st.info("This run has no test images.")
        else:
            count = st.slider("Test images", 1, min(16, test_count), key=tab_key("count", min(8, test_count))) \
                if test_count > 1 else 1
            if test_count < 16:
                st.caption(f"This run has {test_count} test image{'s' * (test_count != 1)}.")
            model = run_model(run_id, epoch)
            probabilities = test_probabilities(run_id, epoch, tuple(range(count)), model)
            columns = st.columns(4)
            for i in range(count):
                with columns[i % 4]:
                    predicted = int(probabilities[i].argmax())
                    caption = f"{names[predicted]} {probabilities[i, predicted]:.0%} ({names[split.y_test[i]]})"
                    st.plotly_chart(charts.gallery(split.x_test[i:i + 1], [caption], columns=1, width=240,
                                                   correct=[predicted == split.y_test[i]]),
                                    width="stretch", key=f"img-{i}")
                    st.plotly_chart(charts.probability_bars(probabilities[i], names, true_index=int(split.y_test[i]),
                                                            top=min(10, len(names))), width="stretch", key=f"bars-{i}")
            st.subheader("Computer vs human")
            per_class = min(10, len(names))
            chosen, missing = inspection.examples_by_class(split.y_test, per_class, per_class)
            if len(chosen):
                predicted = test_probabilities(run_id, epoch, tuple(chosen.tolist()), model).argmax(axis=1)
                st.plotly_chart(charts.computer_vs_human(split.x_test[chosen], [names[t] for t in split.y_test[chosen]],
                                                         [names[p] for p in predicted], per_row=per_class),
                                width="stretch")
            if missing:
                absent = ", ".join(names[c] for c in missing)
                st.caption(f"No test images of class{'es' * (len(missing) > 1)} {absent}.")

if cam_tab.open:
    with cam_tab:
        model = run_model(run_id, epoch)
        layers = inspection.grad_cam_layers(model)
        if image is None or not layers:
            st.info(no_image if image is None else "This model has no conv layer Grad-CAM can explain.")
        else:
            probabilities = inspection.predict_probabilities(model, image[None])[0]
            explain, at_layer = st.columns(2)
            target = explain.selectbox("Explain the class", list(range(len(names))),
                                       format_func=lambda c: f"{names[c]} ({probabilities[c]:.0%})",
                                       # per image: its prediction comes first
                                       key=tab_key(f"cam_class.{index}", int(probabilities.argmax())))
            layer = at_layer.selectbox("At the layer", list(layers), format_func=layers.get,
                                       key=linked_layer("cam_layer", list(layers)),
                                       help="Every conv layer Grad-CAM can explain; the last by default.")
            heat = inspection.grad_cam(model, image, class_index=target, layer=layer)
            title = f"Where the network looked for '{names[target]}' · {layer}"
            st.plotly_chart(charts.grad_cam(image, heat, title=title),
                            width="content")
            st.caption(charts.GRAD_CAM_CAPTION)

if issues_tab.open:
    inspect_label_issues.show(issues_tab, run_id, names, split)
if neighbours_tab.open:
    inspect_neighbours.show(neighbours_tab, run_id, split)
if embedding_tab.open:
    inspect_embedding.show(embedding_tab, run_id, labels, split)

shown_layer = {"Filters": "filter_layer", "Grad-CAM": "cam_layer"}.get(st.session_state.get("inspect.tab"))
address_bar.show_view("inspect", {
    "run": run_id, "epoch": epoch, "tab": st.session_state.get("inspect.tab"), "from": source, "image": index,
    "layer": shown_layer and st.session_state.get(f"{run_key(shown_layer)}.kept")},
    {"tab": TABS[0], "from": sources[0] if sources else None, "image": mistakes[0] if source == SOURCES[0] else 0})

# The model tabs' model loads in the background once the open tab is drawn (a model tab has loaded it
# already): loading it beside the dashboard's own reads doubled the time a run switch took on 2 cores.
model_cache().prefetch(model_key(run_id, epoch))
