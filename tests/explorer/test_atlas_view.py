"""explorer.atlas_view: a run's data map or why it has none, what the map covers, the examples picked
by a selection or a region, and their images found by id in the reloaded split."""

from types import SimpleNamespace

import numpy as np

from cnnkit.datasets import Dataset
from cnnkit.explorer import atlas_view
from cnnkit.stats import cartography

ARRAYS = {"label_probability": np.array([[0.9, 0.2, 0.1, 0.5], [0.9, 0.8, 0.2, 0.6], [0.9, 0.5, 0.0, 0.7]]),
          "predicted": np.array([[1, 2, 0, 1], [1, 0, 0, 2], [1, 0, 0, 1]], dtype=np.uint8),
          "labels": np.array([1, 0, 2, 1]), "ids": np.array(["7", "3", "9", "1"]), "epochs": np.array([1, 2, 3]),
          "training_size": np.array(10)}


class Store:
    def __init__(self, arrays, params):
        self.arrays, self.params = arrays, params

    def training_dynamics(self, run_id):
        return self.arrays

    def run(self, run_id):
        return SimpleNamespace(params=self.params)


def test_a_sampled_runs_map_says_how_many_of_how_many_over_which_epochs():
    atlas = atlas_view.run_atlas(Store(ARRAYS, {"dynamics_sample": "4"}), "r")
    assert atlas.data_map.region_counts() == {cartography.EASY: 2, cartography.AMBIGUOUS: 1, cartography.HARD: 1}
    assert "4 of the 10 training examples (a sample fixed by the run's seed)" in atlas.note
    assert "after epochs 1–3" in atlas.note
    whole = atlas_view.run_atlas(Store({**ARRAYS, "training_size": np.array(4)}, {}), "r")
    assert "all 4 training examples" in whole.note


def test_a_run_without_dynamics_says_why_in_one_line():
    notes = [atlas_view.run_atlas(Store(None, params), "r") for params in ({}, {"dynamics_sample": "0"},
                                                                               {"dynamics_sample": "10000"})]
    assert all(atlas.data_map is None for atlas in notes)
    assert "trained before cnnkit recorded training dynamics" in notes[0].note
    assert "“Training dynamics (examples)” at 0 (off)" in notes[1].note
    assert "stopped before its first epoch ended" in notes[2].note


def test_selected_points_and_regions_pick_examples_of_the_shown_ones_least_confident_first():
    mapped = atlas_view.run_atlas(Store(ARRAYS, {}), "r").data_map
    shown = mapped.chosen(classes=[1, 2])  # positions 0, 2, 3
    assert atlas_view.picked(mapped, shown, point_indices=[0, 2]).tolist() == [3, 0]  # confidence 0.6, then 0.9
    assert atlas_view.picked(mapped, shown, region=cartography.EASY).tolist() == [3, 0]
    assert atlas_view.picked(mapped, shown, region=cartography.AMBIGUOUS).tolist() == []  # position 1 is not shown


def test_an_audits_suspects_are_flagged_by_id_and_picked_among_the_shown_ones():
    mapped = atlas_view.run_atlas(Store(ARRAYS, {}), "r").data_map
    suspects = atlas_view.flagged(mapped, ["9", "1", "3", "404"])  # 404: not in the map's sample
    assert suspects.tolist() == [False, True, True, True]
    shown = mapped.chosen(classes=[1, 2])  # positions 0, 2, 3
    assert atlas_view.picked(mapped, shown, flagged=suspects).tolist() == [2, 3]  # confidence 0.1, then 0.6


def test_the_table_names_label_and_prediction_and_images_are_found_by_id():
    mapped = atlas_view.run_atlas(Store(ARRAYS, {}), "r").data_map
    table = atlas_view.examples_table(mapped, np.array([1, 2]), ["zero", "one", "two"])
    assert table[["id", "label", "predicted", "region"]].values.tolist() == [
        ["3", "zero", "zero", cartography.AMBIGUOUS], ["9", "two", "zero", cartography.HARD]]
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    ids = np.array([str(i) for i in range(10)])[::-1]  # the split's order is not the ids' order
    data = Dataset("d", x, np.zeros(10, int), x[:0], np.zeros(0, int), x[:1], np.zeros(1, int), ("a",), ids_train=ids)
    assert atlas_view.images_of(mapped, np.array([0, 3]), data).ravel().tolist() == [2, 8]  # ids "7", "1"


def test_training_again_without_examples_adds_them_to_those_the_run_already_left_out():
    from cnnkit.config import TrainConfig

    class Runs:
        def config_of_run(self, run_id):
            return TrainConfig(epochs=3, train_limit=300, exclude_examples=("12",))

    values = atlas_view.without_examples(Runs(), "run", np.array(["7", "12", "3"]))
    assert values == {**TrainConfig(epochs=3, train_limit=300).to_dict(), "exclude_examples": ("12", "3", "7")}
