"""cnnkit: run, watch and understand CNN image-classification experiments."""

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner

from cnnkit.accelerators import enable_memory_growth
from pages.common import sidebar
from pages.guard import guarded

# Streamlit calls keras.backend.clear_session() after every script and fragment run (an old
# TF1-era workaround). With training in background threads that resets Keras' global state
# mid-run and forces a full garbage collection every second, starving the training thread of
# the GIL: a 5-second digits run took 4 minutes. Jobs own their models, so we switch it off.
script_runner._clean_problem_modules = lambda: None
enable_memory_growth()  # before any page touches a GPU, so concurrent jobs can share it
st.set_page_config(page_title="cnnkit", page_icon=":material/biotech:", layout="wide")
navigation = st.navigation(
    [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", default=True),
        st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("pages/inspect.py", title="Inspect", icon=":material/biotech:"),
        st.Page("pages/classify.py", title="Classify", icon=":material/image_search:"),
        st.Page("pages/kernels.py", title="Kernels", icon=":material/filter:"),
    ]
)
problem = st.empty()  # the top of the page: where a failure is reported, in one line
with guarded(f"the {navigation.title} page", slot=problem):
    sidebar()
    navigation.run()
