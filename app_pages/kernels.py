"""Kernels: what the seed-003 image filters do to a picture, with the training pre-filter's own code."""

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from cnnkit.explorer import charts, plain_text
from cnnkit.datasets import decode_image, sample_images, to_array
from cnnkit.errors import InputError
from cnnkit.models import PREFILTER_DESCRIPTIONS, SHARPEN, canny_edges, filter_image

MAX_SIDE = 1024  # uploads are filtered at most this many pixels wide and high
PER_ROW = 2  # results side by side: each about half the page wide, so a filter's effect shows
UPLOAD = "your upload"  # the picture choice that filters the uploaded file

st.title("Image kernels")
st.caption("The filters the Train page offers as a pre-filter, with the same code, applied to one picture; "
           "and Canny edges built on the same Sobel kernels.")


@st.cache_data(show_spinner=False)
def samples() -> dict[str, np.ndarray]:
    return sample_images()


# Each result is computed and PNG-encoded once per picture (by `picture_key`) and setting, so a
# slider moved reruns only the filter it drives.
@st.cache_data(max_entries=64, show_spinner=False)
def filtered_png(picture_key: str, _image: np.ndarray, kind: str, kernel: tuple = ()) -> bytes:
    """`kind`: a pre-filter, "original", or "custom" with `kernel`, the 3×3 values row by row."""
    if kind == "original":
        return charts.png(_image)
    if kind == "custom":
        return charts.png(filter_image(_image, kernel=np.reshape(kernel, (3, 3)).astype("float32")))
    return charts.png(filter_image(_image, kind))


@st.cache_data(max_entries=32, show_spinner=False)
def canny_png(picture_key: str, _image: np.ndarray, sigma: float, low: float, high: float) -> bytes:
    return charts.png(canny_edges(_image, sigma, low, high))


def show_upload() -> None:
    """A picture just uploaded is the one shown, until a sample is picked again."""
    if st.session_state["kernels.upload"] is not None:
        st.session_state["kernels.sample"] = UPLOAD


source, upload = st.columns([1, 2])
choice = source.radio("Picture", [*samples(), UPLOAD], horizontal=True, key="kernels.sample",
                      help="A sample, or your upload on the right: the one picked here is filtered.")
uploaded = upload.file_uploader("Your own picture", type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
                                key="kernels.upload", on_change=show_upload)
if choice == UPLOAD and uploaded is None:
    st.info("Upload a picture on the right, or pick a sample.")
    st.stop()
if choice != UPLOAD:
    image = samples()[choice]
else:
    try:
        picture = decode_image(uploaded.getvalue(), uploaded.name)
        full_size = picture.size
        picture.thumbnail((MAX_SIDE, MAX_SIDE))  # a phone photo's 12 megapixels take seconds per filter
        image = to_array(picture, 3)
        if picture.size != full_size:
            upload.caption(f"Filtered at {picture.width}×{picture.height}, scaled down from {full_size[0]}×{full_size[1]}.")
    except InputError as error:
        st.error(plain_text.markdown(error))
        st.stop()

kinds = [kind for kind in PREFILTER_DESCRIPTIONS if kind not in ("none", "edges")]
picked = st.multiselect("Filters", kinds, default=kinds, key="kernels.filters",
                        format_func=lambda kind: f"{kind}: {PREFILTER_DESCRIPTIONS[kind]}")
detectors = st.multiselect("Edge detection", ["Sobel", "Canny"], default=["Sobel", "Canny"], key="kernels.edges",
                           help="Sobel is the `edges` pre-filter: a grey level, brighter where intensity changes. "
                                "Canny thins that to 1-pixel black-and-white edge lines.")
if "Canny" in detectors:
    sigma_column, low_column, high_column = st.columns(3)
    sigma = sigma_column.slider("Canny blur (sigma, pixels)", 0.5, 5.0, 1.0, 0.1, key="kernels.canny_sigma",
                                help="Gaussian blur before the gradient: larger ignores fine texture and noise.")
    low = low_column.slider("Canny low threshold", 0.0, 1.0, 0.1, 0.01, key="kernels.canny_low",
                            help="Fraction of the strongest gradient; weaker pixels are never edges.")
    high = high_column.slider("Canny high threshold", 0.0, 1.0, 0.2, 0.01, key="kernels.canny_high",
                              help="Fraction of the strongest gradient; stronger pixels are always edges, "
                                   "and pixels between low and high only when they touch one.")
st.markdown("**Your own 3×3 kernel** (starts as the sharpen kernel; values are multiplied into each 3×3 patch)")
custom = st.data_editor(pd.DataFrame(SHARPEN, columns=["left", "centre", "right"]), key="kernels.custom",
                        hide_index=True, width=360)
kernel = custom.to_numpy(dtype="float32")

picture = hashlib.sha1(image.tobytes()).hexdigest() + str(image.shape)
results = {kind: filtered_png(picture, image, kind) for kind in ["original", *picked]}
if "Sobel" in detectors:
    results["edges"] = filtered_png(picture, image, "edges")
if "Canny" in detectors:
    try:
        results["canny"] = canny_png(picture, image, sigma, low, high)
    except InputError as error:
        st.error(plain_text.markdown(error))
if np.isfinite(kernel).all():
    results["your kernel"] = filtered_png(picture, image, "custom", tuple(kernel.ravel().tolist()))
else:
    st.warning("The custom kernel needs a number in every cell.")
shown = list(results.items())
for row in range(0, len(shown), PER_ROW):
    for column, (title, png) in zip(st.columns(PER_ROW), shown[row : row + PER_ROW]):
        column.image(png, caption=title, width="stretch", output_format="PNG")
