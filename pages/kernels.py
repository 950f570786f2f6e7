"""Kernels: what the seed-003 image filters do to a picture, with the training pre-filter's own code."""

import numpy as np
import pandas as pd
import streamlit as st

from cnnkit import charts
from cnnkit.datasets import sample_images
from cnnkit.errors import InputError
from cnnkit.images import decode_image, to_array
from cnnkit.tricks import PREFILTER_DESCRIPTIONS, SHARPEN, canny_edges, filter_image

st.title("Image kernels")
st.caption("The filters the Train page offers as a pre-filter, with the same code, applied to one picture; "
           "and Canny edges built on the same Sobel kernels.")


@st.cache_data(show_spinner=False)
def samples() -> dict[str, np.ndarray]:
    return sample_images()


source, upload = st.columns([1, 2])
choice = source.radio("Picture", list(samples()), horizontal=True, key="kernels.sample")
uploaded = upload.file_uploader("…or upload your own", type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
                                key="kernels.upload")
image = samples()[choice]
if uploaded is not None:
    try:
        image = to_array(decode_image(uploaded.getvalue(), uploaded.name), 3)
    except InputError as error:
        st.error(str(error))

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

results = [image] + [filter_image(image, kind) for kind in picked]
titles = ["original"] + picked
if "Sobel" in detectors:
    results.append(filter_image(image, "edges"))
    titles.append("edges")
if "Canny" in detectors:
    try:
        results.append(canny_edges(image, sigma, low, high))
        titles.append("canny")
    except InputError as error:
        st.error(str(error))
if np.isfinite(kernel).all():
    results.append(filter_image(image, kernel=kernel))
    titles.append("your kernel")
else:
    st.warning("The custom kernel needs a number in every cell.")
st.plotly_chart(charts.image_grid(np.stack(results), titles, columns=3), width="stretch")
