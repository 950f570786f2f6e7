"""Classify: run a trained model on your own images: one in depth, or a whole batch."""

import numpy as np
import streamlit as st

from cnnkit.datasets import images
from cnnkit.explorer import charts, plain_text
from cnnkit.models import inspection, predict
from cnnkit.stats import calibration
from cnnkit.errors import InputError
from app_pages.calibration_panel import classify_temperature
from app_pages.drawing_canvas import drawing_canvas
from app_pages.common import cached_model, cached_test_split, model_choices, run_model_and_evaluation

st.title("Classify images")

choices = model_choices("classify.run")
picked = st.selectbox("Model", list(choices), key="classify.run",
                      help="Registered models first (register one from its run on the Runs page), then the newest "
                           "finished runs (“Find a run” finds older ones).")
run_id = choices[picked]
model, evaluation = run_model_and_evaluation(run_id)
names = evaluation.class_names
input_shape = tuple(model.input_shape[1:])
sample = np.stack(list(evaluation.mistake_images.values())) if evaluation.mistake_images else None
light_on_dark = st.toggle("The model was trained on light shapes on a dark background (like MNIST)",
                          value=bool(sample is not None and predict.trained_light_on_dark(sample)), key="classify.polarity",
                          help="Then a dark digit photographed on light paper is inverted before classifying.")
st.caption(f"Input {'×'.join(map(str, input_shape))}, {len(names)} classes. Uploads are decoded safely: PNG, JPEG, "
           "WebP, BMP, GIF (first frame), TIFF; other files get a one-line message.")
temperature = classify_temperature(run_id)  # None: the raw probabilities


@st.cache_resource(max_entries=4, show_spinner="Comparing with the run's test images…")
def test_reference(run: str) -> predict.TestReference | None:
    """What the model made of the run's test images; None when they can't be reloaded."""
    try:
        split = cached_test_split(run)
    except InputError:
        return None
    return predict.test_reference(cached_model(run), split.x_test)


OOD_HELP = ("Ticked where the image looks unlike the run's test images (as the one-image tab warns): the network "
            "is less sure of it, or it lies farther from them, than of or between almost all of them. Empty where the "
            "test images can't be reloaded.")

single_tab, batch_tab, kaggle_tab = st.tabs(["One image", "Batch", "Kaggle test CSV"])

with single_tab:
    how = st.radio("Image from", ["Upload", "Camera", "Draw"], horizontal=True, key="classify.source",
                   captions=["a file", "a photo", "a digit, for MNIST-style models"])
    image, name, notes = None, "", ()
    try:
        if how == "Draw":
            drawn = drawing_canvas("classify.canvas")
            if drawn is not None:
                image, name = images.frame_drawing(drawn), "the drawing"
                notes = ("cropped to the ink and centred like an MNIST digit",)
        else:
            source = (st.camera_input("Take a photo", key="classify.camera") if how == "Camera" else
                      st.file_uploader("Upload an image", type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
                                       key="classify.one"))
            if source is not None:
                image, name = source.getvalue(), source.name
        prepared = predict.prepare(image, name, input_shape, light_on_dark) if image is not None else None
    except InputError as error:
        st.error(plain_text.markdown(error))
        prepared = None
    if prepared is not None:
        probabilities = calibration.calibrated(inspection.predict_probabilities(model, prepared.model_input[None]),
                                               temperature)[0]
        original, seen, result = st.columns([1, 1, 2])
        original.image(prepared.original, caption="your image", width="stretch")
        shown = prepared.model_input if prepared.model_input.shape[-1] == 3 else prepared.model_input[..., 0]
        seen.image(shown, caption="what the model sees", width="stretch")
        for note in (*notes, *prepared.notes):
            seen.caption(note)
        reference = test_reference(run_id)
        known = None if reference is None else predict.familiarity(model, prepared.model_input, reference)
        if known is not None and known.unfamiliar:  # a warning goes above the prediction it casts doubt on
            result.warning(known.message())
        result.plotly_chart(charts.probability_bars(probabilities, names, top=min(5, len(names))), width="stretch")
        result.dataframe(predict.top_k(probabilities, names), hide_index=True,
                         column_config={"probability": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)})
        if known is None:
            result.caption("The run's test images can't be reloaded, so this image can't be compared with them.")
        elif not known.unfamiliar:  # under the prediction: about the image, not the prediction's confidence
            result.caption(known.message())
        maps = inspection.feature_maps(model, prepared.model_input)
        layer = st.selectbox("Feature maps of layer", list(maps), key="classify.layer")
        st.plotly_chart(charts.feature_map_grid(maps[layer], layer), width="stretch")
        predicted = int(probabilities.argmax())
        cam_layers = inspection.grad_cam_layers(model)
        # No key: another model's layers make it a new picker, which starts again at the last layer.
        cam_layer = st.selectbox("Grad-CAM at the layer", list(cam_layers), index=len(cam_layers) - 1,
                                 format_func=cam_layers.get, help="Every conv layer Grad-CAM can explain; the last by default.")
        heat = inspection.grad_cam(model, prepared.model_input, class_index=predicted, layer=cam_layer)
        st.plotly_chart(charts.grad_cam(prepared.model_input, heat,
                                        title=f"Where the network looked for '{names[predicted]}' · {cam_layer}"),
                        width="content")
        st.caption(charts.GRAD_CAM_CAPTION)

with batch_tab:
    files = st.file_uploader("Upload many images or a .zip of images", accept_multiple_files=True, key="classify.batch",
                             type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff", "zip"])
    if files:
        batch = []
        for file in files:
            if file.name.lower().endswith(".zip"):
                try:
                    batch += predict.files_from_zip(file.getvalue(), file.name)
                except InputError as error:
                    st.error(plain_text.markdown(error))
            else:
                batch.append((file.name, file.getvalue()))
        if batch:
            table = predict.predict_files(model, batch, names, light_on_dark, reference=test_reference(run_id),
                                          temperature=temperature)
            failed = table[table["error"] != ""]
            st.caption(f"{len(table) - len(failed)} of {len(table)} images classified.")
            for row in failed.itertuples():
                st.error(plain_text.markdown(row.error))
            # Failed files are listed above in full (a table cell cuts long text off); the CSV keeps both.
            st.dataframe(table[table["error"] == ""].drop(columns="error"), hide_index=True, width="stretch",
                         column_config={"file": st.column_config.TextColumn("file", width="medium"),
                                        "confidence": st.column_config.NumberColumn("confidence", format="percent"),
                                        "top5": st.column_config.TextColumn("top 5", width="large"),
                                        "out_of_distribution": st.column_config.CheckboxColumn(
                                            "unlike the training data", help=OOD_HELP)})
            st.download_button("Download predictions (CSV)", table.to_csv(index=False).encode(), "predictions.csv",
                               mime="text/csv")

with kaggle_tab:
    test_csv = st.file_uploader("Kaggle digit-recognizer test.csv (pixel columns, no label)", type=["csv"],
                                key="classify.kaggle")
    if test_csv is not None:
        try:
            submission = predict.kaggle_submission(model, test_csv.getvalue(), light_on_dark, class_names=names)
        except InputError as error:
            st.error(plain_text.markdown(error))
        else:
            st.dataframe(submission.head(20), hide_index=True)
            st.download_button("Download submission (ImageId,Label)", predict.submission_csv(submission),
                               "submission.csv", mime="text/csv")
