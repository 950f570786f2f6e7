"""cnnkit: run, watch and understand CNN image-classification experiments."""

import sys

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner

from app_pages.guard import guarded

# Streamlit calls keras.backend.clear_session() after every script and fragment run (an old
# TF1-era workaround). With training in background threads that resets Keras' global state
# mid-run and forces a full garbage collection every second, starving the training thread of
# the GIL: a 5-second digits run took 4 minutes. Jobs own their models, so we switch it off.
script_runner._clean_problem_modules = lambda: None
st.set_page_config(page_title="cnnkit", page_icon=":material/biotech:", layout="wide")
navigation = st.navigation(
    [
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", default=True),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/table_rows:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("app_pages/ablation.py", title="Ablation", icon=":material/science:"),
        st.Page("app_pages/inspect.py", title="Inspect", icon=":material/biotech:"),
        st.Page("app_pages/atlas.py", title="Data atlas", icon=":material/scatter_plot:"),
        st.Page("app_pages/classify.py", title="Classify", icon=":material/image_search:"),
        st.Page("app_pages/kernels.py", title="Kernels", icon=":material/filter:"),
    ]
)
notice = st.empty()  # the top of the page: a note while the server starts up, then where a failure is reported
if "keras" not in sys.modules:
    notice.info("Starting up: the first page after the server starts loads TensorFlow and MLflow, which takes a "
                "while. Later pages are quick.", icon=":material/hourglass_top:")
with guarded(f"the {navigation.title} page", slot=notice):
    # Imported here, after the note: on the first page since the server started they take seconds.
    from cnnkit.training import enable_memory_growth
    from app_pages.sidebar import sidebar

    enable_memory_growth()  # before any page touches a GPU, so concurrent jobs can share it
    notice.empty()
    sidebar()
    navigation.run()
