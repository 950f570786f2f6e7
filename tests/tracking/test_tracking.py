"""How the runs table's `tricks` column reads a run's params (config.describe_tricks), and the
package's face: every name it exports is there."""

from cnnkit import tracking
from cnnkit.config import TrainConfig, describe_tricks

RICH = TrainConfig(schedule="cyclic", flip="horizontal", rotation=10, zoom=0.1, prefilter="sharpen",
                   label_smoothing=0.1, early_stopping=3, epochs=4)


def test_describe_tricks_of_the_defaults_is_only_the_optimizer():
    assert describe_tricks(TrainConfig().to_params()) == "adam 0.001"


def test_describe_tricks_lists_every_non_default_trick():
    assert describe_tricks(RICH.to_params()) == (
        "adam 0.001 · cyclic · flip, rot 10°, zoom 0.1 · sharpen · smooth 0.1 · early stop 3"
    )
    cfg = TrainConfig(optimizer="adamw", weight_decay=0.01, schedule="one_cycle", prefilter="blur_sharpen",
                      normalization="none", translate=0.1, pad_crop=4, activation="elu", batch_norm=False, width=2)
    assert describe_tricks(cfg.to_params()) == (
        "adamw 0.001 wd 0.01 · one-cycle · shift 0.1, crop 4px · blur+sharpen · raw pixels · elu, no batch norm, width ×2"
    )


def test_describe_tricks_names_weight_averaging_test_time_flip_and_mixed_precision():
    cfg = TrainConfig(flip="horizontal", ema_momentum=0.999, test_time_flip=True, precision="mixed_bfloat16")
    assert describe_tricks(cfg.to_params()) == "adam 0.001 · flip · EMA 0.999 · TTA flip · bf16"
    assert describe_tricks(cfg.replace(precision="mixed_float16").to_params()).endswith("· fp16")


def test_describe_tricks_reads_partial_and_odd_params_as_defaults():
    assert describe_tricks({}) == "adam 0.001"
    assert describe_tricks({"optimizer": "sgd", "learning_rate": "0.1", "rotation": "", "zoom": "lots"}) == "sgd 0.1"
    assert describe_tricks({"activation": "None", "dropout_scale": "default", "batch_norm": "true"}) == "adam 0.001 · batch norm"


def test_the_face_exports_each_name_it_lists_and_no_client():
    assert all(hasattr(tracking, name) for name in tracking.__all__)
    assert not {"make_client", "MlflowClient"} & set(dir(tracking))  # the client stays inside the package
