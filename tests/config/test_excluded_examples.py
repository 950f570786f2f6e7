"""cnnkit.config.excluded_examples: the Exclude examples setting's ids typed, read from a file for the
command line, and recorded as a run's param."""

import hashlib

import pandas as pd
import pytest

from cnnkit.config import TrainConfig, example_id_list, excluded_count, excluded_param, short_param, with_id_files
from cnnkit.errors import InputError
from cnnkit.explorer import label_issues


def test_typed_ids_are_one_per_line_or_comma_separated_each_once_sorted():
    assert example_id_list("train/7, train/1,train/7") == ("train/1", "train/7")
    assert example_id_list("b\n a,1.png \n\n") == ("a,1.png", "b")
    assert example_id_list("") == ()


def test_the_param_is_the_count_and_the_sha256_of_the_sorted_ids():
    digest = hashlib.sha256(b"train/1\ntrain/7").hexdigest()
    assert excluded_param(["train/7", "train/1", "train/7"]) == f"2 examples, sha256 {digest}"
    assert excluded_param(["x"]).startswith("1 example, sha256 ") and excluded_param([]) == ""
    assert excluded_count(excluded_param(map(str, range(1234)))) == 1234


def test_a_table_shows_the_param_short():
    assert short_param(excluded_param(map(str, range(1234)))).startswith("1,234 examples · sha256 ")
    assert len(short_param(excluded_param(map(str, range(1234))))) < 40
    assert short_param("") == "none"


def test_a_file_gives_one_id_per_line(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("train/7\ntrain/1\n\ntrain/7\n")
    assert with_id_files({"exclude_examples": f"@{ids}", "epochs": "1"}) == {
        "exclude_examples": ("train/1", "train/7"), "epochs": "1"}
    assert with_id_files({"exclude_examples": "train/1,train/7"}) == {"exclude_examples": "train/1,train/7"}


def test_a_label_issues_csv_gives_its_id_column(tmp_path):
    table = pd.DataFrame({"split": ["validation", "test"], "index": [3, 4], "id": ["12", "cats/a,b.png"],
                          "given_label": ["1", "2"]})
    path = tmp_path / "issues.csv"
    path.write_bytes(label_issues.to_csv(table))
    assert with_id_files({"exclude_examples": f"@{path}"})["exclude_examples"] == ("12", "cats/a,b.png")


def test_a_file_that_cant_be_read_is_named_under_the_label(tmp_path):
    with pytest.raises(InputError, match="^Exclude examples: can't read .*missing.txt") as refused:
        with_id_files({"exclude_examples": f"@{tmp_path / 'missing.txt'}"})
    assert refused.value.field == "exclude_examples"


def test_a_file_whose_line_is_too_long_for_a_csv_field_is_refused_in_a_line_not_a_traceback(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("id," + "x" * 200_000 + "\n1,2\n")
    for setting, label in (("exclude_examples", "Exclude examples"), ("relabel_examples", "Relabel examples")):
        with pytest.raises(InputError, match=f"^{label}: can't read .*huge.csv: field larger than field limit"):
            with_id_files({setting: f"@{path}"})


def test_only_the_command_line_reads_files_a_typed_at_sign_is_an_id():
    assert TrainConfig.from_dict({"exclude_examples": "@/etc/passwd"}).exclude_examples == ("@/etc/passwd",)
