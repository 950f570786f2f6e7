"""Train: pick data, a network and tricks; launch runs in the background and watch them live.

Every setting's control comes from its declaration in cnnkit/config/settings.py. The form lives in
this session's state and in the address bar (the non-default settings, and the job chosen to watch,
as query parameters), so a reload or a shared link brings it back. The form is `train_form`, its
tabs `train_tabs`, the job panels `train_jobs`; what they show comes from cnnkit.explorer.
"""

import streamlit as st

from app_pages.action_button import action_button
from app_pages.common import job_manager, run_store, visitor
from app_pages.search_panel import search_section
from app_pages.train_form import Form, form_values, load_form, restore_form, sync_address_bar, watch
from app_pages.train_jobs import jobs_panel, lr_finder_panel, polled
from app_pages.train_tabs import cached_data, data_tab, model_tab, optimiser_tab, tricks_tab
from cnnkit.config import PRESETS, TABS, TrainConfig, describe_run, fetched_when_trained, unavailable_data
from cnnkit.errors import InputError
from cnnkit.explorer import launch, plain_text, train_plan
from cnnkit.jobs import slots_set_by
from cnnkit.models import get_architecture
from cnnkit.training import describe_devices


def launch_training() -> None:
    values = form_values()
    name = st.session_state.get("run_name", "").strip()
    try:
        launched = launch.launch_training(manager, run_store(), values, name, visitor())
    except InputError as error:
        st.toast(f"Not launched: {plain_text.markdown(error)}")
        return
    watch(launched)  # followed live, and named in the address bar so that a reload keeps it
    st.session_state["run_name"] = ""
    st.toast(f"Queued {plain_text.markdown(launch.run_title(values, name))}.")


def find_learning_rate() -> None:
    try:
        st.session_state["lr_job"] = launch.find_learning_rate(manager, form_values(), visitor())
    except InputError as error:
        st.toast(f"Not started: {plain_text.markdown(error)}")


def preset_label(name: str, missing: dict) -> str:
    if missing[name] is None:
        return name
    return f"{name} — {'downloads its data first' if fetched_when_trained(PRESETS[name]) else 'data not available here'}"


def sidebar() -> None:
    st.subheader("Presets")
    missing = {name: unavailable_data(preset, server_paths) for name, preset in PRESETS.items()}  # files looked for, none read
    preset = st.selectbox("Seed experiment", list(PRESETS), key="preset",
                          index=next((i for i, name in enumerate(PRESETS) if missing[name] is None), 0),
                          format_func=lambda name: preset_label(name, missing),
                          help="Load one of the write-ups' experiments into the form; you can still edit everything.")
    st.caption(PRESETS[preset].description)
    blocked = missing[preset] is not None and not fetched_when_trained(PRESETS[preset])
    if blocked:
        st.caption(f":material/block: Its data is not available here: {plain_text.markdown(missing[preset])}")
    elif missing[preset]:
        st.caption(f":material/cloud_download: Not on this machine yet: {plain_text.markdown(missing[preset])}. "
                   "Training downloads it first, which needs the internet.")
    st.button("Load preset", on_click=lambda: load_form(PRESETS[st.session_state["preset"]].config().to_dict()),
              width="stretch", disabled=blocked, help=missing[preset] if blocked else None)
    st.subheader("Jobs")
    slots, decided_by = manager.slots(), slots_set_by(manager)
    cap = st.number_input("Runs training at once", 1, max(8, slots), slots, disabled=decided_by is not None,
                          help=decided_by or "More launches wait in the queue until a slot frees up.")
    if decided_by is None and cap != manager.max_concurrent:
        manager.set_max_concurrent(int(cap))


def launch_bar(form: Form, data, cfg) -> None:
    """What will run, what stops it, and the Launch and Find-learning-rate buttons."""
    values, problems = form.values, form.problems
    summary, name_column, launch_column, finder_column = st.columns([4.5, 2.5, 1.5, 1.5], vertical_alignment="bottom")
    summary.markdown(f"**{plain_text.markdown(describe_run(values))}**")
    if problems:
        where = ", ".join(f"**{label}** ({tab})" for label, tab in train_plan.problem_places(problems))
        summary.markdown(f":red[:material/error: {len(problems)} problem{'s' * (len(problems) > 1)} to fix: {where}]")
        for field, problem in problems.items():
            if not form.is_shown(field):
                summary.error(plain_text.markdown(problem))  # its control is hidden, so say it here
    else:
        summary.caption(f":material/check_circle: Ready: {data.split_counts()['train']:,} training images, "
                        f"{data.num_classes} classes.")
    reason = "Fix the problems listed on the left first." if problems else None
    name_column.text_input("Run name (optional)", key="run_name", placeholder=f"{values['arch']} on {values['dataset']}")
    action_button(launch_column, "Launch training", "train.launch", on_click=launch_training, type="primary",
                  disabled=cfg is None, width="stretch", help=reason)
    action_button(finder_column, "Find learning rate", "train.find_lr", on_click=find_learning_rate,
                  disabled=cfg is None, width="stretch",
                  help=reason or "Train briefly while the rate grows from 1e-6 to 1 and plot the loss "
                                 "(Smith's range test).")


# ---- page -------------------------------------------------------------------------------

manager = job_manager()
server_paths = manager.server_paths  # the app's one policy, which the manager applies to every job
restore_form(manager)
values = form_values()
sync_address_bar(values)
arch = get_architecture(values["arch"])

st.title("Train")
st.caption(f"Training on **{describe_devices()}** · runs are logged to MLflow at `{manager.tracking_uri}`")
for message in st.session_state.pop("url_problems", []):
    st.warning(f"Left out of the address's settings: {plain_text.markdown(message)}")
with st.sidebar:
    sidebar()

data, data_problem = train_plan.form_data(values, server_paths, load=cached_data)  # after the title: MNIST takes seconds
form = Form(values, train_plan.form_problems(values, data_problem), server_paths.open_to_visitors)
cfg = None if form.problems else TrainConfig.from_dict(values)
st.html(form.style())
with st.container(key="launch_bar"):
    launch_bar(form, data, cfg)

data_tab_area, model_tab_area, tricks_tab_area, optimise_tab_area = st.tabs(list(TABS.values()), key="train_tabs")
with data_tab_area:
    data_tab(form, data)
with model_tab_area:
    model_tab(form, arch, data)
with tricks_tab_area:
    tricks_tab(form, data, cfg)
with optimise_tab_area:
    optimiser_tab(form, arch, data, cfg)
st.session_state["train_form"] = values

lr_job = manager.find(st.session_state.get("lr_job") or "")
if lr_job is not None and launch.range_test_is_stale(lr_job.config, values):
    manager.cancel(lr_job.job_id)  # it was run for other data or another network: its result no longer applies
    del st.session_state["lr_job"]
elif lr_job is not None:
    polled(lr_finder_panel, active=lr_job.is_active)

polled(jobs_panel, active=any(job.is_active for job in manager.snapshots() if job.kind == "train"))
search_section((lambda: cfg) if cfg is not None else None, values)
