"""The Compare page through Streamlit's AppTest: a click on a confusion cell shows its images right
under the chart clicked, the view lives in the address bar (reload, shared link), the epoch note
sits where the runs are chosen.

The runs are test_time_travel_pages's: a 2-epoch digits run with snapshots and a fork of it, both
tested on the same images.
"""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_time_travel_pages import lineage, store_app  # noqa: F401  (fixtures)

from cnnkit import tracking
from app_script import APP

pytestmark = pytest.mark.slow
GONE = "0" * 32  # a run id no store holds


def in_order(node) -> list:
    """The page's elements in the order a reader meets them (columns and tabs opened)."""
    children = getattr(node, "children", None)
    if children is None:
        return [node]
    return [element for index in sorted(children) for element in in_order(children[index])]


def confusion_tab(store_app, runs):
    store_app.session_state["compare_runs"] = runs
    at = store_app.switch_page("app_pages/compare.py")
    at.session_state["compare.tab"] = "Confusion"  # as a click on the tab: only the open one is drawn
    return at.run()


def clicked(at, chart_key: str, true: str, predicted: str):
    """The page after a click on cell (true, predicted) of the chart `chart_key`, as the browser reports it."""
    at.session_state[chart_key] = {"selection": {"points": [{"x": predicted, "y": true}], "point_indices": [0],
                                                 "box": [], "lasso": []}}
    return at.run()


def position(elements, test) -> int:
    return next(i for i, element in enumerate(elements) if test(element))


def spec(element) -> str:
    """A chart's figure as JSON text, its non-ASCII characters as themselves."""
    return json.dumps(json.loads(element.proto.spec), ensure_ascii=False)


def is_chart(text: str):
    return lambda element: element.type == "plotly_chart" and text in spec(element)


def test_a_click_on_a_difference_cell_shows_the_images_that_only_a_or_only_b_put_there_right_under_it(store_app, lineage):
    uri, parent, child = lineage
    store = tracking.RunStore(uri)
    a, b = store.evaluation_of_run(parent).confusion, store.evaluation_of_run(child).confusion
    true = int(abs(b - a).diagonal().argmax())  # the class whose right answers changed most
    at = confusion_tab(store_app, [parent, child])
    at = clicked(at, f"difference-{parent}-{child}", str(true), str(true))
    assert not at.exception
    elements = in_order(at.main)
    line = position(elements, lambda e: e.type == "markdown" and e.value.startswith(f"True *{true}*, predicted *{true}*"))
    assert position(elements, is_chart("B − A: test images per cell")) == line - 1  # right under the chart clicked
    counts = [int(word) for word in elements[line].value.split(":", 1)[1].split() if word.isdigit()]
    both, only_a, only_b = counts
    assert (both + only_a, both + only_b) == (a[true, true], b[true, true])  # as the two matrices count the cell
    galleries = [e for e in elements[line:] if is_chart("puts here")(e)]
    assert len(galleries) == (only_a > 0) + (only_b > 0) > 0


def test_a_click_on_a_runs_matrix_shows_its_images_under_that_matrix_not_under_the_difference(store_app, lineage):
    uri, parent, child = lineage
    confusion = tracking.RunStore(uri).evaluation_of_run(child).confusion
    off = confusion - np.diag(np.diag(confusion))
    true, predicted = divmod(int(off.argmax()), len(confusion))  # its most common mistake
    at = clicked(confusion_tab(store_app, [parent, child]), f"confusion-{child}", str(true), str(predicted))
    assert not at.exception
    elements = in_order(at.main)
    line = position(elements, lambda e: e.type == "markdown" and f"true *{true}*, predicted *{predicted}*" in e.value)
    assert position(elements, is_chart("B − A")) > line  # under its own matrix, above the difference
    assert [is_chart("Predicted label")(e) for e in elements[line - 1:line + 1]] == [True, False]


def test_the_view_goes_into_the_address_and_a_reload_or_a_shared_link_opens_it_again(store_app, lineage):
    _, parent, child = lineage
    at = store_app.switch_page("app_pages/compare.py").run()
    at.multiselect(key="compare.runs").set_value([parent, child]).run()
    at.radio(key="compare.per").set_value("batch").run()
    at.slider(key="compare.smooth.batch").set_value(25).run()
    at.select_slider(key="compare.epoch").set_value(1)
    at.session_state["compare.tab"] = "Results"
    at.run()
    assert not at.exception
    assert at.query_params == {"runs": f"{parent},{child}", "tab": "Results", "per": "batch", "smooth": "25",
                               "epoch": "1"}
    reloaded = AppTest.from_file(APP, default_timeout=120)  # a new browser session on the same address
    reloaded.query_params = dict(at.query_params)
    reloaded.switch_page("app_pages/compare.py").run()
    assert not reloaded.exception
    assert reloaded.multiselect(key="compare.runs").value == [parent, child]
    assert reloaded.session_state["compare.tab"] == "Results" and reloaded.select_slider(key="compare.epoch").value == 1
    reloaded.session_state["compare.tab"] = "Curves"
    reloaded.run()
    assert reloaded.radio(key="compare.per").value == "batch" and reloaded.slider(key="compare.smooth.batch").value == 25


def test_a_link_naming_a_run_the_store_no_longer_has_gives_a_note_and_compares_the_others(store_app, lineage):
    _, parent, child = lineage
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params = {"runs": f"{parent},{GONE},{child}", "smooth": "many"}
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and not at.error
    assert at.multiselect(key="compare.runs").value == [parent, child]
    assert [c.value for c in at.caption if c.value.startswith("The link names")] == [
        "The link names a run no longer among the finished runs in this store (000000); it is left out."]


def test_the_note_on_runs_shown_finished_sits_under_the_epoch_slider_above_the_tabs(store_app, lineage):
    _, parent, child = lineage
    at = confusion_tab(store_app, [parent, child])
    at.select_slider(key="compare.epoch").set_value(1).run()
    elements = in_order(at.main)
    note = position(elements, lambda e: e.type == "caption" and e.value.startswith("Shown finished"))
    assert position(elements, lambda e: getattr(e, "key", None) == "compare.epoch") < note
    assert note < position(elements, is_chart("Predicted label"))  # the tab's first matrix
