"""The Runs page's Manage & relaunch tab for the open run: rename and tag it, relaunch it with
edits, inspect, delete, register, export, or fork it from one of its snapshots."""

import streamlit as st

from app_pages import common
from app_pages.atlas_links import open_in_atlas
from cnnkit.config import SETTINGS, assignments_from_text
from cnnkit.errors import InputError
from cnnkit.experiments import export
from cnnkit.explorer import plain_text
from cnnkit.tracking import run_schema

EXPORTED = "runs.exported"  # (run id, zip bytes, ONNX note) of the last export made on this page


def fork_from_epoch(store, run_id: str) -> None:
    """Start a new run from one of this run's snapshots, with some settings changed."""
    snapshots = store.snapshot_epochs(run_id)
    if not snapshots:
        st.caption(":material/fork_right: No fork from an epoch: this run kept no snapshots (train with "
                   f"“{SETTINGS['snapshot_every'].label}” on).")
        return
    epoch_column, changes_column, button_column = st.columns([1, 3, 1], vertical_alignment="bottom")
    epoch = epoch_column.selectbox("Fork from epoch", snapshots, key=f"fork-epoch-{run_id}")
    text = changes_column.text_input("Changed settings (key=value, separated by commas or spaces)", key=f"fork-changes-{run_id}",
                                     placeholder="e.g. learning_rate=0.0003 rotation=10 epochs=20",
                                     help="The fork starts from the snapshot's weights and optimizer state; its "
                                          "epochs continue from the snapshot's.")
    if button_column.button("Fork", width="stretch", key=f"fork-{run_id}"):
        try:
            common.job_manager().fork(run_id, epoch, assignments_from_text(text), visitor=common.visitor())
            st.success("Forking in a job: follow it on the Train page.")
        except InputError as error:
            st.error(plain_text.markdown(error))


def manage_panel(store, run_id: str, run) -> None:
    """The tab's controls for `run` (`store.run(run_id)`)."""
    rename, tag_key, tag_value = st.columns([2, 1, 1], vertical_alignment="bottom")
    new_name = rename.text_input("Name", value=run.name, key=f"name-{run_id}")
    key_text = tag_key.text_input("Tag", key=f"tag-key-{run_id}", placeholder="e.g. keep")
    value_text = tag_value.text_input("Value", key=f"tag-value-{run_id}", placeholder="e.g. yes")
    save, add_tag, relaunch, inspect, atlas, delete = st.columns(6)
    try:
        if save.button("Save name", width="stretch") and new_name != run.name:
            store.rename_run(run_id, new_name)
            st.rerun()
        if add_tag.button("Add tag", width="stretch"):
            store.set_run_tag(run_id, key_text, value_text)
            st.rerun()
    except InputError as error:
        st.error(plain_text.markdown(error))
    if relaunch.button("Edit & relaunch", type="primary", width="stretch",
                       help="Open this run's settings in the Train form, change what you like and launch."):
        try:
            st.session_state["relaunch_config"] = store.config_of_run(run_id).to_dict()
            st.switch_page("app_pages/train.py")
        except InputError as error:
            st.error(f"This run's settings can't be loaded: {plain_text.markdown(error)}")
    if inspect.button("Inspect", width="stretch", disabled=run.status != "FINISHED",
                      help="Feature maps, filters, probabilities and Grad-CAM for this run's model."):
        st.session_state["inspect_run"] = run_id
        st.switch_page("app_pages/inspect.py")
    if atlas.button("Data atlas", width="stretch", disabled=run.status != "FINISHED",
                    help="This run's data map: its training examples by how confidently and stably it learnt them."):
        open_in_atlas(run_id)
    if delete.toggle("Delete…", key=f"delete-{run_id}"):
        if st.button("Really delete this run", type="primary"):
            store.delete_run(run_id)
            st.session_state.pop("open_run")
            st.rerun()
    register_name, register = st.columns([3, 1], vertical_alignment="bottom")
    model_name = register_name.text_input(
        "Register this run's model as", key=f"register-{run_id}", value=f"{run.params.get('dataset', 'model')}-classifier",
        help="Adds a version to MLflow's Model Registry; the Classify page lists registered models first.")
    finished = run.status == "FINISHED"
    registered_now = False
    if register.button("Register model", width="stretch", disabled=not finished,
                       help=None if finished else "Only a finished run has a model to register."):
        try:
            store.register_model(run_id, model_name)
            registered_now = True
        except InputError as error:
            st.error(plain_text.markdown(error))
    versions = store.registered_models(run_id=run_id)
    if versions:  # one line, the versions so far: a success right after a registration, else a caption
        (st.success if registered_now else st.caption)(
            "Registered as " + ", ".join(f"{plain_text.markdown(v.name)} v{v.version}" for v in versions) + ".")
        newest = max(versions, key=lambda version: version.created)
        if newest.note:  # a run logged before MLflow Models: a warning right after registering, else a caption
            (st.warning if registered_now else st.caption)(plain_text.markdown(newest.note))
        else:
            st.caption("Serve it with " + plain_text.markdown(f"mlflow models serve -m {newest.uri} --env-manager local")
                       + " (README › Serving a registered model).")
    if st.button("Export", disabled=not finished,
                 help="The .keras model, an ONNX copy checked with onnxruntime and a model card, in one zip."
                 if finished else "Only a finished run has a model to export."):
        try:
            with st.spinner("Exporting: the model, its ONNX copy checked on test images, the model card…"):
                st.session_state[EXPORTED] = (run_id, *export.export_zip(store, run_id))
        except InputError as error:
            st.error(plain_text.markdown(error))
    if st.session_state.get(EXPORTED, ("",))[0] == run_id:
        _, archive, onnx_note = st.session_state[EXPORTED]
        st.download_button("Download the export (zip)", archive, file_name=f"{run_id}.zip", mime="application/zip",
                           on_click="ignore", type="primary")
        st.caption(onnx_note)
    fork_from_epoch(store, run_id)
    user_tags = {k: v for k, v in run.tags.items() if not k.startswith(run_schema.RESERVED_TAG_PREFIXES)}
    for tag, value in user_tags.items():
        shown_tag, remove = st.columns([4, 1])
        shown_tag.markdown(f"{plain_text.markdown(tag)} = {plain_text.markdown(value)}")
        if remove.button("Remove", key=f"untag-{tag}"):
            store.delete_run_tag(run_id, tag)
            st.rerun()
    if common.job_manager().recovered_runs:
        st.caption(f"{len(common.job_manager().recovered_runs)} run(s) left RUNNING by a stopped process were marked KILLED at start.")
