"""Inspect: one run in depth: dashboard, feature maps, filters, probabilities and Grad-CAM."""

import numpy as np
import streamlit as st

from cnnkit import charts, inspection, tracking
from cnnkit.errors import InputError
from pages.common import cached_model, cached_test_split, finished_run_labels, mlflow_client, run_model_and_evaluation

client = mlflow_client()
st.title("Inspect a run")

labels = finished_run_labels()
preselected = st.session_state.get("inspect_run")
run_id = st.selectbox("Run", list(labels), index=list(labels).index(preselected) if preselected in labels else 0,
                      format_func=labels.get, key="inspect.run")

model, evaluation = run_model_and_evaluation(run_id)
names = evaluation.class_names
try:
    split = cached_test_split(run_id)
except InputError as error:
    split = None
    st.warning(f"{error} Views that need the test images are limited to the misclassified ones kept with the run.")


@st.cache_data(max_entries=64, show_spinner="Computing feature maps…")
def maps_for(run: str, image_key: str, _image: np.ndarray) -> dict:
    """Feature maps are computed once per run and image, then reused for every layer view."""
    return inspection.feature_maps(cached_model(run), _image)


@st.cache_data(max_entries=16, show_spinner="Classifying test images…")
def probabilities_for(run: str, fingerprint: str, _images: np.ndarray) -> np.ndarray:
    return inspection.predict_probabilities(cached_model(run), _images)


dashboard_tab, maps_tab, filters_tab, probabilities_tab, cam_tab = st.tabs(
    ["Dashboard", "Feature maps", "Filters", "Probabilities", "Grad-CAM"])

with dashboard_tab:
    epochs, _ = tracking.run_history(client, run_id)
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.learning_curves(epochs), width="stretch")
    right.plotly_chart(charts.confusion_matrix(evaluation.confusion, names, normalize=True), width="stretch")
    strip = evaluation.mistakes.head(10)
    images = np.stack([evaluation.mistake_images[i] for i in strip["index"] if i in evaluation.mistake_images] or [])
    if len(images):
        captions = [f"true: {names[t]}\npred: {names[p]} {c:.0%}" for t, p, c in
                    zip(strip["true"], strip["predicted"], strip["confidence"])][: len(images)]
        st.plotly_chart(charts.gallery(images, captions, columns=10, correct=[False] * len(images),
                                       title="Most confident mistakes"), width="stretch")
    else:
        st.caption("No misclassified test images.")

# One chosen image drives the feature maps and Grad-CAM.
with st.sidebar:
    st.subheader("Image to inspect")
    source = st.radio("Pick from", ["misclassified", "test set"], key="inspect.source", horizontal=True)
    if source == "misclassified" and not evaluation.mistakes.empty:
        options = [i for i in evaluation.mistakes["index"].tolist() if i in evaluation.mistake_images]
        index = st.selectbox("Test image #", options, key="inspect.mistake",
                             format_func=lambda i: f"#{i}: {names[int(evaluation.mistakes.set_index('index').loc[i, 'true'])]}")
        image = evaluation.mistake_images[index]
    elif split is not None:
        index = st.number_input("Test image #", 0, len(split.x_test) - 1, 0, key="inspect.index")
        image = split.x_test[index]
    else:
        st.warning("No test images available for this run.")
        st.stop()
    st.image(image if image.shape[-1] == 3 else image[..., 0], caption=f"test image #{index}", width=160)

with maps_tab:
    maps = maps_for(run_id, f"{index}", image)
    layer_names = list(maps)
    picked = st.multiselect("Layers", layer_names, default=layer_names, key="inspect.layers")
    for layer in picked:
        st.plotly_chart(charts.feature_map_grid(maps[layer], layer), width="stretch", key=f"maps-{layer}")

with filters_tab:
    layer = st.selectbox("Conv layer", inspection.conv_layer_names(model), key="inspect.filter_layer")
    kernels = inspection.filters(model, layer)
    st.plotly_chart(charts.image_grid(kernels, columns=16, title=f"{layer}: {len(kernels)} filters"), width="stretch")

with probabilities_tab:
    if split is None:
        st.caption("Needs the run's test images.")
    else:
        count = st.slider("Test images", 4, 16, 8, step=4, key="inspect.count")
        probabilities = probabilities_for(run_id, split.fingerprint(), split.x_test[:count])
        columns = st.columns(4)
        for i in range(count):
            with columns[i % 4]:
                predicted = int(probabilities[i].argmax())
                caption = f"{names[predicted]} {probabilities[i, predicted]:.0%} ({names[split.y_test[i]]})"
                st.plotly_chart(charts.gallery(split.x_test[i:i + 1], [caption], columns=1, width=240,
                                               correct=[predicted == split.y_test[i]]), width="stretch", key=f"img-{i}")
                st.plotly_chart(charts.probability_bars(probabilities[i], names, true_index=int(split.y_test[i]),
                                                        top=min(10, len(names))), width="stretch", key=f"bars-{i}")
        st.subheader("Computer vs human")
        per_class = min(10, len(names))
        rows = [np.flatnonzero(split.y_test == c)[:per_class] for c in range(min(10, len(names)))]
        chosen = np.concatenate(rows)
        predicted = probabilities_for(run_id, split.fingerprint() + "-grid", split.x_test[chosen]).argmax(axis=1)
        st.plotly_chart(charts.computer_vs_human(split.x_test[chosen], [names[t] for t in split.y_test[chosen]],
                                                 [names[p] for p in predicted], per_row=per_class), width="stretch")

with cam_tab:
    probabilities = inspection.predict_probabilities(model, image[None])[0]
    target = st.selectbox("Explain the class", list(range(len(names))), index=int(probabilities.argmax()),
                          format_func=lambda c: f"{names[c]} ({probabilities[c]:.0%})", key="inspect.cam_class")
    heat = inspection.grad_cam(model, image, class_index=target)
    st.plotly_chart(charts.heatmap_overlay(image, inspection.overlay(image, heat),
                                           title=f"Where the network looked for '{names[target]}'"), width="stretch")
