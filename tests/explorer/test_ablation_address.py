"""The Ablation page's choices to the address bar and back: what a reload or a shared link restores."""

from cnnkit.explorer import ablation_address
from cnnkit.explorer.ablation_address import EMPTY, from_query, to_query

CHOICES = {"preset": "", "base": "run:0123abcd", "changes": "epochs=1, train_limit=100", "seeds": 3,
           "factors": ["flip", "batch_norm", "learning_rate"],
           "levels": {"flip": ["none", "horizontal"], "batch_norm": [True, False], "learning_rate": "0.001 0.01"},
           "name": "flips × norm", "shown": "abcdef123456"}


def test_choices_go_into_the_query_and_come_back_the_same():
    query = to_query(CHOICES)
    assert query == {"base": "run:0123abcd", "changes": "epochs=1, train_limit=100", "name": "flips × norm",
                     "shown": "abcdef123456", "seeds": "3", "factors": "flip,batch_norm,learning_rate",
                     "levels.flip": "none,horizontal", "levels.batch_norm": "true,false",
                     "levels.learning_rate": "0.001 0.01"}
    assert from_query(query) == CHOICES


def test_nothing_chosen_is_an_empty_query_and_an_empty_query_is_nothing_chosen():
    assert to_query(EMPTY) == {} and from_query({}) == EMPTY
    assert to_query({**EMPTY, "factors": ["flip"], "levels": {"flip": [], "epochs": ["1", "2"]}}) == {"factors": "flip"}


def test_a_preset_ablation_and_a_preset_base_come_back():
    query = to_query({**EMPTY, "preset": "seed002_ablation", "seeds": 4})
    assert from_query(query) == {**EMPTY, "preset": "seed002_ablation", "seeds": 4}
    assert from_query({"base": "preset:seed002_baseline"})["base"] == "preset:seed002_baseline"


def test_what_no_longer_makes_sense_is_left_out_of_a_link():
    choices = from_query({"preset": "gone", "base": "preset:gone", "seeds": "500",
                          "factors": "flip, colour, seed, flip, epochs",
                          "levels.flip": "none, sideways horizontal", "levels.colour": "red,blue"})
    assert (choices["preset"], choices["base"], choices["seeds"]) == ("", ablation_address.TRAIN_BASE, None)
    assert choices["factors"] == ["flip", "epochs"]
    assert choices["levels"] == {"flip": ["none", "horizontal"]}  # none named for epochs: the page's first ones
    assert from_query({"seeds": "two"})["seeds"] is None and from_query({"seeds": "0"})["seeds"] is None
    # a base is "train", "run:ID" or "preset:NAME": a bare preset name is no base
    assert from_query({"base": "seed002_baseline"})["base"] == ablation_address.TRAIN_BASE
