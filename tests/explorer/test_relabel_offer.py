import pandas as pd

from cnnkit.config import TrainConfig
from cnnkit.explorer import relabel_offer

CSV = TrainConfig(dataset="csv", dataset_path="/data/train.csv", epochs=2)


def issues(*rows) -> pd.DataFrame:
    """A label-issues table's columns that matter here: split, id, given and suggested label."""
    return pd.DataFrame(rows, columns=["split", "id", "given_label", "suggested_label"])


def test_the_training_suspects_are_relabelled_to_their_suggestion_on_top_of_the_runs_own(run_store):
    cfg = CSV.replace(relabel_examples=("5,1", "8,2"), exclude_examples=("12", "30"))
    run_id = run_store.start_run(cfg).run_id
    table = issues(("training", "12", "4", "9"), ("training", "8", "2", "3"), ("validation", "77", "1", "7"))
    offer = relabel_offer.relabel_offer(run_store, run_id, table)
    assert offer.count == 2 and offer.reason == ""
    again = TrainConfig.from_dict(offer.values)
    assert again.relabel_examples == ("12,9", "5,1", "8,3")  # 8's suggestion replaces the run's own relabel
    assert again.exclude_examples == ("30",)  # 12 comes back, relabelled
    assert again.replace(relabel_examples=(), exclude_examples=()) == CSV


def test_an_example_the_run_both_relabelled_and_excluded_stays_out_when_it_is_no_suspect(run_store):
    cfg = CSV.replace(relabel_examples=("45,7",), exclude_examples=("45", "46"))
    offer = relabel_offer.relabel_offer(run_store, run_store.start_run(cfg).run_id, issues(("training", "10", "2", "3")))
    again = TrainConfig.from_dict(offer.values)
    assert offer.count == 1 and again.relabel_examples == ("10,3", "45,7")
    assert again.exclude_examples == ("45", "46")  # 45 was left out and nobody asked for it back


def test_held_out_suspects_or_an_official_dataset_are_not_offered_and_say_why(run_store):
    held_out = issues(("validation", "77", "1", "7"), ("test", "3", "2", "5"))
    offer = relabel_offer.relabel_offer(run_store, run_store.start_run(CSV).run_id, held_out)
    assert offer.values is None and offer.reason.startswith("Only training examples can be relabelled")
    training = issues(("training", "train/7", "1", "7"))
    offer = relabel_offer.relabel_offer(run_store, run_store.start_run(TrainConfig(dataset="mnist")).run_id, training)
    assert offer.values is None and "this run trained on mnist: use Exclude examples" in offer.reason
