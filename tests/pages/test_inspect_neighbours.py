"""Inspect's "Neighbours" tab through AppTest, on the tiny digits run of test_inspect_page: nothing is
computed until asked; then the pairs and outliers show, and a lower threshold finds at least as many pairs."""

import re

import pytest

import test_inspect_page
from test_inspect_page import opened

pytestmark = pytest.mark.slow
tiny_run, inspect_app = test_inspect_page.tiny_run, test_inspect_page.inspect_app  # its fixtures, shared


def pair_counts(at) -> list[int]:
    found = (re.match(r"\*\*(\d+)\*\*( or more)? pairs? ", md.value) for md in at.markdown)
    return [int(m.group(1)) for m in found if m]


def test_the_tab_finds_pairs_and_outliers_on_a_click(inspect_app, tiny_run):
    run = tiny_run[1]
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Neighbours")
    assert not at.exception and pair_counts(at) == []  # nothing computed before the click
    at.button(key=f"inspect.neighbours_find.{run}").click().run()
    assert not at.exception
    strict = pair_counts(at)
    assert len(strict) == 2  # within the test split, across training and test
    specs = " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
    assert "The test images least like the rest" in specs
    at.slider(key=f"inspect.neighbours_threshold.{run}").set_value(0.9).run()
    loose = pair_counts(at)
    assert all(a >= b for a, b in zip(loose, strict)) and not at.exception
