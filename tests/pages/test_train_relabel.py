"""The Train form's Relabel examples box: lines in, the count under it, each problem under it by its label."""

from cnnkit.config import TrainConfig, load_data
from cnnkit.datasets import save_upload

from alerts import alert_text
from test_pages import launch_button, three_class_csv


def test_relabelled_lines_are_counted_under_the_box_and_bad_ones_block_the_launch(app, tmp_path):
    data = open(three_class_csv(tmp_path / "mine.csv"), "rb").read()
    _, stored = save_upload(data, "mine.csv", tmp_path / "mlruns" / "uploads")
    cfg = TrainConfig(dataset="csv", dataset_path=str(stored))
    split = load_data(cfg)
    first, second = split.ids_train[:2].tolist()
    app.session_state["relaunch_config"] = cfg.replace(relabel_examples=(f"{first},8", f"{second},15")).to_dict()
    at = app.run()
    box = at.text_area(key="cfg.relabel_examples")
    assert not at.exception and sorted(box.value.splitlines()) == sorted([f"{first},8", f"{second},15"])
    assert "2 training examples relabelled" in " ".join(caption.value for caption in at.caption)
    assert not launch_button(at).disabled
    box.set_value(f"{first},99").run()
    problems = [alert_text(error) for error in at.error if alert_text(error).startswith("Relabel examples")]
    assert problems == ["Relabel examples: '99' is no class of this dataset; its classes are 1, 8, 15."]
    assert launch_button(at).disabled
    at.text_area(key="cfg.relabel_examples").set_value(f"{split.ids_test[0]},8").run()
    assert any("is in the test split, which stays as it is: only training examples can be relabelled"
               in alert_text(error) for error in at.error) and launch_button(at).disabled
