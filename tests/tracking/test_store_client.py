"""What the store's parts share (cnnkit.tracking._store_client): paging, run names for tables and
legends, and MLflow's complaints a person can act on as InputError."""

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2

from cnnkit import InputError
from cnnkit.config import TrainConfig
from cnnkit.tracking._store_client import as_input_error, display_names, paged


class Page(list):
    def __init__(self, items, token):
        super().__init__(items)
        self.token = token


def test_paged_reads_pages_until_the_limit_or_the_last_page():
    pages = {None: Page([1, 2], "b"), "b": Page([3, 4], "c"), "c": Page([5], None)}
    asked = []

    def fetch(size, token):
        asked.append((size, token))
        return pages[token]

    assert paged(fetch) == [1, 2, 3, 4, 5]
    asked.clear()
    assert paged(fetch, limit=3) == [1, 2, 3, 4]  # a page is never cut: the caller asked for at most 3 per page
    assert asked == [(3, None), (1, "b")]


def test_display_names_tell_runs_that_share_a_name_apart(run_store):
    ids = [run_store.start_run(TrainConfig(), run_name=name).run_id for name in ("same", "same", "alone")]
    names = display_names(run_store._runs(ids))
    assert names == [f"same ({ids[0][:8]})", f"same ({ids[1][:8]})", "alone"]


def test_a_refusal_a_person_can_act_on_is_an_input_error_and_others_pass():
    with pytest.raises(InputError, match="no such run"):
        with as_input_error():
            raise MlflowException("no such run", error_code=databricks_pb2.RESOURCE_DOES_NOT_EXIST)
    with pytest.raises(MlflowException):
        with as_input_error():
            raise MlflowException("database is locked", error_code=databricks_pb2.TEMPORARILY_UNAVAILABLE)
