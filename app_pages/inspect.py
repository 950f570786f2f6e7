"""Inspect: one run in depth: dashboard, feature maps, filters, probabilities and Grad-CAM."""

import numpy as np
import streamlit as st

from cnnkit import charts, inspection
from cnnkit.errors import InputError
from app_pages.common import (
    cached_model, cached_test_split, epoch_slider, finished_run_labels, run_model_and_evaluation, run_store,
)

store = run_store()
st.title("Inspect a run")

labels = finished_run_labels()
preselected = st.session_state.get("inspect_run")
run_id = st.selectbox("Run", list(labels), index=list(labels).index(preselected) if preselected in labels else 0,
                      format_func=labels.get, key="inspect.run")


def run_key(name: str) -> str:
    """A widget key of this run: another run's picks are other widgets, which start from their own
    defaults (its layers, its images) instead of stale picks, and Streamlit forgets the old ones."""
    return f"inspect.{name}.{run_id}"


epoch = epoch_slider(store.snapshot_epochs(run_id), run_key("epoch"))
model, evaluation = run_model_and_evaluation(run_id, epoch)
names = evaluation.class_names
try:
    split = cached_test_split(run_id)
except InputError as error:
    split = None
    st.warning(f"{error} Views that need the test images are limited to the misclassified ones kept with the run.")
test_count = 0 if split is None else len(split.x_test)


@st.cache_data(max_entries=64, show_spinner="Computing feature maps…")
def maps_for(run: str, at_epoch: int | None, image_key: str, _image: np.ndarray) -> dict:
    """Feature maps are computed once per run, epoch and image, then reused for every layer view."""
    return inspection.feature_maps(cached_model(run, at_epoch), _image)


@st.cache_data(max_entries=16, show_spinner="Classifying test images…")
def test_probabilities(run: str, at_epoch: int | None, indices: tuple[int, ...]) -> np.ndarray:
    """Probabilities of the run's test images at `indices` (a run's test split never changes)."""
    return inspection.predict_probabilities(cached_model(run, at_epoch), cached_test_split(run).x_test[list(indices)])


# Only the open tab is drawn (a stateful tab set reruns the page when another opens): switching the
# run then rebuilds one tab's figures, not all 24. A tab's picks start from their defaults when it opens.
dashboard_tab, maps_tab, filters_tab, probabilities_tab, cam_tab = st.tabs(
    ["Dashboard", "Feature maps", "Filters", "Probabilities", "Grad-CAM"], key="inspect.tab", on_change="rerun")

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
        tested = int(evaluation.confusion.sum())
        if tested < len(names):
            st.warning(f"This run was tested on {tested} image{'s' * (tested != 1)}, fewer than its {len(names)} "
                       "classes: its test scores say little. Give it more with a larger “Test share” (1 · Data).")

# One chosen image drives the feature maps and Grad-CAM.
with st.sidebar:
    st.subheader("Image to inspect")
    mistakes = [i for i in evaluation.mistakes["index"].tolist() if i in evaluation.mistake_images]
    sources = (["misclassified"] if mistakes else []) + (["test set"] if test_count else [])
    image, index = None, None
    if not sources:
        st.info("This run has no test images to pick from.")
    elif st.radio("Pick from", sources, key=run_key("source"), horizontal=True) == "misclassified":
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
            maps = maps_for(run_id, epoch, f"{index}", image)
            layer_names = list(maps)
            picked = st.multiselect("Layers", layer_names, default=layer_names, key=run_key("layers"))
            for layer in picked:
                st.plotly_chart(charts.feature_map_grid(maps[layer], layer), width="stretch", key=f"maps-{layer}")

if filters_tab.open:
    with filters_tab:
        layer = st.selectbox("Conv layer", inspection.conv_layer_names(model), key=run_key("filter_layer"))
        kernels = inspection.filters(model, layer)
        grid = charts.image_grid(kernels, columns=16, title=f"{layer}: {len(kernels)} filters")
        st.plotly_chart(grid, width="stretch")

if probabilities_tab.open:
    with probabilities_tab:
        if split is None:
            st.caption("Needs the run's test images.")
        elif not test_count:
            st.info("This run has no test images.")
        else:
            count = st.slider("Test images", 1, min(16, test_count), min(8, test_count), key=run_key("count")) \
                if test_count > 1 else 1
            if test_count < 16:
                st.caption(f"This run has {test_count} test image{'s' * (test_count != 1)}.")
            probabilities = test_probabilities(run_id, epoch, tuple(range(count)))
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
                predicted = test_probabilities(run_id, epoch, tuple(chosen.tolist())).argmax(axis=1)
                st.plotly_chart(charts.computer_vs_human(split.x_test[chosen], [names[t] for t in split.y_test[chosen]],
                                                         [names[p] for p in predicted], per_row=per_class),
                                width="stretch")
            if missing:
                absent = ", ".join(names[c] for c in missing)
                st.caption(f"No test images of class{'es' * (len(missing) > 1)} {absent}.")

if cam_tab.open:
    with cam_tab:
        layers = inspection.grad_cam_layers(model)
        if image is None or not layers:
            st.info(no_image if image is None else "This model has no conv layer Grad-CAM can explain.")
        else:
            probabilities = inspection.predict_probabilities(model, image[None])[0]
            explain, at_layer = st.columns(2)
            target = explain.selectbox("Explain the class", list(range(len(names))), index=int(probabilities.argmax()),
                                       format_func=lambda c: f"{names[c]} ({probabilities[c]:.0%})",
                                       key=run_key(f"cam_class.{index}"))  # per image: its prediction comes first
            layer = at_layer.selectbox("At the layer", list(layers), index=len(layers) - 1, format_func=layers.get,
                                       key=run_key("cam_layer"),
                                       help="Every conv layer Grad-CAM can explain; the last by default.")
            heat = inspection.grad_cam(model, image, class_index=target, layer=layer)
            title = f"Where the network looked for '{names[target]}' · {layer}"
            st.plotly_chart(charts.grad_cam(image, heat, title=title),
                            width="content")
            st.caption(charts.GRAD_CAM_CAPTION)
