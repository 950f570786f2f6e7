"""cnnkit.tracking.lineage: where a fork came from, kept in its tags (forking itself: tests/training/test_forks.py)."""

from cnnkit.tracking.lineage import Lineage, lineage_of, lineage_tags


def test_the_tags_keep_their_stored_names_and_text():
    assert lineage_tags("p" * 32, 7) == {"cnnkit.parent_run": "p" * 32, "cnnkit.parent_epoch": "7"}


def test_each_run_of_a_fork_chain_names_only_its_own_parent():
    runs = {"root": {}, "child": lineage_tags("root", 4), "grandchild": lineage_tags("child", 2)}
    chain, run = [], "grandchild"
    while (lineage := lineage_of(runs[run])) is not None:
        chain.append((run, lineage))
        run = lineage.parent_run_id
    assert chain == [("grandchild", Lineage("child", 2)), ("child", Lineage("root", 4))]


def test_tags_without_both_a_parent_and_a_whole_epoch_are_no_fork():
    assert lineage_of({"cnnkit.parent_run": "p"}) is None
    assert lineage_of({"cnnkit.parent_run": "p", "cnnkit.parent_epoch": "two"}) is None
    assert lineage_of({"cnnkit.parent_run": "", "cnnkit.parent_epoch": "2"}) is None
    assert lineage_of({"cnnkit.parent_epoch": "2", "other": "x"}) is None
