"""cnnkit's browser front door. The Train, Runs, Compare, Inspect and Classify pages arrive
with their issues; for now it shows what the library offers and the runs in the store."""

import pandas as pd
import streamlit as st

from cnnkit.architectures import list_architectures
from cnnkit.datasets import list_datasets
from cnnkit.presets import list_presets

st.set_page_config(page_title="cnnkit", layout="wide")
st.title("cnnkit")
st.caption("Run, watch and understand CNN image-classification experiments.")
st.markdown("Train headless today with `python -m cnnkit train --dataset digits --epochs 1`; runs land in MLflow.")

architectures, datasets, presets = st.tabs(["Architectures", "Datasets", "Presets"])
architectures.dataframe(pd.DataFrame(list_architectures()), hide_index=True)
datasets.dataframe(pd.DataFrame(list_datasets()), hide_index=True)
presets.dataframe(pd.DataFrame(list_presets()).drop(columns="settings"), hide_index=True)
