"""Inspect's "Label issues" tab through AppTest, on the tiny digits run of test_inspect_page: the
run's logged probabilities give the list, an older run's come from its model, and both agree."""

import pytest

from cnnkit import InputError, tracking
from cnnkit.explorer import label_issues
from cnnkit.tracking import run_schema
import test_inspect_page
from test_inspect_page import opened

pytestmark = pytest.mark.slow
tiny_run, inspect_app = test_inspect_page.tiny_run, test_inspect_page.inspect_app  # its fixtures, shared


def expected_table(uri: str, run_id: str):
    store = tracking.RunStore(uri)
    return label_issues.find_label_issues(label_issues.held_out_of_run(store, run_id),
                                          store.evaluation_of_run(run_id).class_names)


def shown_rows(at) -> list:
    return at.dataframe[0].value[["split", "position"]].values.tolist()


def test_the_tab_lists_the_suspects_with_images_and_a_csv(inspect_app, tiny_run):
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Label issues")
    assert not at.exception
    table = expected_table(*tiny_run)
    assert len(table), "a 10-image digits run doubts some labels"
    assert f"**{len(table):,}** suspected label error" in " ".join(m.value for m in at.markdown)
    assert shown_rows(at) == table[["split", "position"]].head(20).values.tolist()
    assert "Suspected label errors" in at.get("plotly_chart")[0].proto.spec
    assert at.get("download_button"), "the CSV can be downloaded"
    at.multiselect(key=f"inspect.label_issues_splits.{tiny_run[1]}").set_value(["test"]).run()
    test_only = table[table["split"] == "test"]
    assert shown_rows(at) == test_only[["split", "position"]].head(20).values.tolist()


def test_an_older_run_without_logged_probabilities_gets_them_from_its_model(inspect_app, tiny_run, monkeypatch):
    expected = expected_table(*tiny_run)
    real = tracking.RunStore.load_arrays_artifact

    def before_calibration(store, run_id, artifact_file):
        if artifact_file == run_schema.CALIBRATION_PROBABILITIES:
            raise InputError("none")
        return real(store, run_id, artifact_file)

    monkeypatch.setattr(tracking.RunStore, "load_arrays_artifact", before_calibration)
    at = opened(inspect_app.switch_page("app_pages/inspect.py").run(), "Label issues")
    assert not at.exception
    # the same model on the same images: the logged test probabilities were flip-free float16 copies
    assert shown_rows(at)[:5] == expected[["split", "position"]].head(5).values.tolist()
