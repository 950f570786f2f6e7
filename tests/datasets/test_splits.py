"""cnnkit.datasets.splits: deterministic, stratified train/validation/test splits."""


import numpy as np
import pytest

from cnnkit.datasets import load_dataset
from cnnkit.datasets import stratified_split
from cnnkit.errors import InputError
from cnnkit.errors import SettingError

# No test downloads (the offline fixture in tests/datasets/conftest.py).
pytestmark = pytest.mark.usefixtures("offline")


# --- splits --------------------------------------------------------------------------------


def test_stratified_split_holds_out_the_fraction_of_every_class():
    y = np.repeat([0, 1, 2], [100, 50, 10])
    keep, holdout = stratified_split(y, 0.2, seed=0)
    assert np.bincount(y[holdout]).tolist() == [20, 10, 2]
    assert sorted(np.concatenate([keep, holdout]).tolist()) == list(range(len(y)))


def test_stratified_split_totals_round_fraction_times_examples():
    y = np.repeat([0, 1, 2], 3)
    _, holdout = stratified_split(y, 0.5, seed=0)
    assert len(holdout) == 4  # round(4.5); one class gives 2, the others 1


def test_a_class_with_a_single_example_stays_in_keep():
    y = np.array([0] * 10 + [1])
    keep, holdout = stratified_split(y, 0.5, seed=0)
    assert 10 in keep and 10 not in holdout


def test_stratified_split_is_fixed_by_the_seed():
    y = np.arange(200) % 4
    first, second = stratified_split(y, 0.3, seed=7), stratified_split(y, 0.3, seed=7)
    other = stratified_split(y, 0.3, seed=8)
    assert all((a == b).all() for a, b in zip(first, second))
    assert set(first[1]) != set(other[1])


def test_a_zero_fraction_holds_out_nothing():
    keep, holdout = stratified_split(np.arange(10) % 2, 0.0, seed=0)
    assert len(keep) == 10 and len(holdout) == 0


def test_digits_split_60_20_20_stratified():
    data = load_dataset("digits", test_fraction=0.2, val_fraction=0.25, seed=0)
    counts = data.split_counts()
    assert counts == {"train": 1078, "validation": 360, "test": 359}
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert data.x_train.max() == 255
    for y in (data.y_train, data.y_val, data.y_test):
        shares = np.bincount(y, minlength=10) / len(y)
        assert np.abs(shares - 0.1).max() < 0.015


def test_the_same_arguments_give_the_same_split_and_fingerprint():
    first, second = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    assert (first.x_train == second.x_train).all() and (first.y_test == second.y_test).all()
    assert first.fingerprint() == second.fingerprint()


def test_another_seed_or_limit_gives_another_fingerprint():
    base = load_dataset("digits", seed=3).fingerprint()
    assert load_dataset("digits", seed=4).fingerprint() != base
    assert load_dataset("digits", seed=3, train_limit=500).fingerprint() != base


def test_an_official_test_split_is_kept_and_validation_comes_from_training(fake_dataset):
    x_test = np.zeros((7, 1, 1, 1), dtype=np.uint8)
    fake_dataset(np.arange(100) % 2, x_test, np.arange(7) % 2)
    data = load_dataset("fake", val_fraction=0.1, test_fraction=0.5)
    assert data.split_counts() == {"train": 90, "validation": 10, "test": 7}
    assert (data.x_test == 0).all()


def test_validation_can_be_empty_with_the_right_shape(fake_dataset):
    fake_dataset(np.arange(20) % 2)
    data = load_dataset("fake", val_fraction=0)
    assert data.x_val.shape == (0, 1, 1, 1) and data.y_val.shape == (0,)
    assert data.split_counts() == {"train": 16, "validation": 0, "test": 4}


def test_train_limit_caps_only_the_training_images_with_stratification():
    full, limited = load_dataset("digits"), load_dataset("digits", train_limit=100)
    assert limited.split_counts() == {"train": 100, "validation": 144, "test": 359}
    assert np.bincount(limited.y_train).tolist() == [10] * 10
    assert np.array_equal(limited.x_val, full.x_val) and np.array_equal(limited.x_test, full.x_test)
    assert set(map(bytes, limited.x_train)) <= set(map(bytes, full.x_train))


def test_splits_are_disjoint(fake_dataset):
    fake_dataset(np.arange(100) % 3)
    data = load_dataset("fake", seed=5)
    indices = [set(x.ravel().tolist()) for x in (data.x_train, data.x_val, data.x_test)]
    assert sum(map(len, indices)) == len(set.union(*indices)) == 100


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"test_fraction": 0}, "test_fraction"),
        ({"train_limit": 0}, "train_limit"),
    ],
)
def test_bad_split_arguments_are_refused_by_name(arguments, field):
    with pytest.raises(SettingError) as raised:
        load_dataset("digits", **arguments)
    assert raised.value.field == field and str(raised.value).startswith("must be ")


def test_too_few_examples_for_a_test_split_is_an_input_error(fake_dataset):
    fake_dataset([0, 1, 0, 1])
    with pytest.raises(InputError, match=r"^0.1 of 4 images keeps 0 test images for 2 classes") as raised:
        load_dataset("fake", test_fraction=0.1)
    assert raised.value.field == "test_fraction"


def test_too_few_examples_for_a_validation_split_is_an_input_error(fake_dataset):
    fake_dataset([0, 1] * 5)
    with pytest.raises(InputError, match=r"^0.05 of the training images holds out no image") as raised:
        load_dataset("fake", test_fraction=0.2, val_fraction=0.05)
    assert raised.value.field == "val_fraction"


def test_fewer_training_images_than_classes_is_refused_naming_the_limit():
    with pytest.raises(InputError, match=r"^5 training images can't cover 10 classes: use at "
                                         r"least 10") as raised:
        load_dataset("digits", train_limit=5)
    assert raised.value.field == "train_limit"
    assert load_dataset("digits", train_limit=10).split_counts()["train"] == 10


def test_fewer_test_images_than_classes_is_refused_naming_the_test_share():
    with pytest.raises(InputError, match=r"^.* keeps 7 test images for 10 classes") as raised:
        load_dataset("digits", test_fraction=0.004)
    assert raised.value.field == "test_fraction"


# --- excluded examples ---------------------------------------------------------------------


def test_excluded_examples_leave_the_training_split_and_nothing_else():
    base = load_dataset("digits", seed=3, train_limit=300)
    gone = base.ids_train[[0, 5, 9]].tolist()
    data = load_dataset("digits", seed=3, train_limit=300, exclude=gone)
    assert sorted(data.ids_train.tolist()) == sorted(set(base.ids_train.tolist()) - set(gone))
    kept = np.isin(base.ids_train, gone, invert=True)
    assert np.array_equal(data.x_train, base.x_train[kept]) and np.array_equal(data.y_train, base.y_train[kept])
    for split in ("x_val", "y_val", "ids_val", "x_test", "y_test", "ids_test"):
        assert np.array_equal(getattr(data, split), getattr(base, split)), split
    assert data.test_fingerprint() == base.test_fingerprint() and data.fingerprint() != base.fingerprint()


def test_the_same_ids_leave_the_same_examples_every_time():
    gone = load_dataset("digits", seed=1).ids_train[:3].tolist()
    first, second = (load_dataset("digits", seed=1, exclude=gone) for _ in range(2))
    assert first.fingerprint() == second.fingerprint() and not set(gone) & set(first.ids_train.tolist())


def test_an_id_that_is_no_training_example_is_refused_saying_where_it_is():
    base = load_dataset("digits", seed=3, train_limit=300)
    outside_limit = sorted(set(load_dataset("digits", seed=3).ids_train.tolist()) - set(base.ids_train.tolist()))[0]
    for example_id, where in ((base.ids_val[0], "in the validation split"), (base.ids_test[0], "in the test split"),
                              ("99999", "not in this dataset"), (outside_limit, "Limit training images")):
        with pytest.raises(SettingError, match=where) as refused:
            load_dataset("digits", seed=3, train_limit=300, exclude=[base.ids_train[0], str(example_id)])
        assert refused.value.field == "exclude_examples" and repr(str(example_id)) in str(refused.value)
    with pytest.raises(SettingError, match=r"'nix' is not in this dataset \(and 1 more id that is no training"):
        load_dataset("digits", seed=3, exclude=["nope", "nix"])
    with pytest.raises(SettingError, match=r"'abc' is not in this dataset \(and 2 more ids that are no training "
                                           r"examples\)\.$"):
        load_dataset("digits", seed=3, exclude=["nope", "nix", "abc"])


def test_excluding_a_whole_class_or_everything_is_refused():
    base = load_dataset("digits", seed=3, train_limit=300)
    with pytest.raises(SettingError, match=r"every training example of 1 class \(4\)"):
        load_dataset("digits", seed=3, train_limit=300, exclude=base.ids_train[base.y_train == 4].tolist())
    with pytest.raises(SettingError, match="excludes all 300 training examples"):
        load_dataset("digits", seed=3, train_limit=300, exclude=base.ids_train.tolist())


# --- relabelled examples -------------------------------------------------------------------


def test_relabelled_examples_change_their_training_label_and_nothing_else():
    base = load_dataset("digits", seed=3, train_limit=300)
    chosen = base.ids_train[[0, 5]].tolist()
    new = {chosen[0]: str((base.y_train[0] + 1) % 10), chosen[1]: str((base.y_train[5] + 2) % 10)}
    data = load_dataset("digits", seed=3, train_limit=300, relabel=new)
    expected = base.y_train.copy()
    expected[[0, 5]] = [int(new[chosen[0]]), int(new[chosen[1]])]
    assert np.array_equal(data.y_train, expected) and np.array_equal(data.x_train, base.x_train)
    assert np.array_equal(data.ids_train, base.ids_train)
    for split in ("x_val", "y_val", "ids_val", "x_test", "y_test", "ids_test"):
        assert np.array_equal(getattr(data, split), getattr(base, split)), split
    assert data.relabelled == tuple(sorted((i, str(base.y_train[base.ids_train == i][0]), new[i]) for i in chosen))
    assert data.test_fingerprint() == base.test_fingerprint() and data.fingerprint() != base.fingerprint()
    assert base.relabelled == ()


def test_relabelling_an_example_outside_training_or_to_an_unknown_class_is_refused():
    base = load_dataset("digits", seed=3, train_limit=300)
    with pytest.raises(SettingError, match="in the validation split, which stays as it is: only training examples "
                                           "can be relabelled") as refused:
        load_dataset("digits", seed=3, train_limit=300, relabel={base.ids_val[0]: "3"})
    assert refused.value.field == "relabel_examples"
    with pytest.raises(SettingError, match=r"'cat' is no class of this dataset; its classes are 0, 1, 2") as refused:
        load_dataset("digits", seed=3, train_limit=300, relabel={base.ids_train[0]: "cat"})
    assert refused.value.field == "relabel_examples"
