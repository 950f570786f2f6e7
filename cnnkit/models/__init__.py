"""The networks and what runs inside them: built by name, saved and loaded by registered name.

- `architectures`: the seeds' networks and a small ResNet by name (`build_model`, knobs), their
  random layers seeded by `layer_seeds`;
- `augment`: seeded augmentation layers; `filters`: fixed image filters and the input layers
  (pre-filter, per-image standardisation); `schedules`: learning-rate schedules and the range
  test's suggestion. Their Keras objects are registered under "cnnkit>…" names, so models saved by
  any version load (importing this package registers them);
- `inspection`: feature maps and Grad-CAM; `predict`: uploads fitted to a model, batch prediction;
- `corruptions`: noise, blur, contrast, JPEG, geometry... at five severities, with the benchmarks' constants.
"""

from cnnkit.models import corruptions, inspection, predict
from cnnkit.models.architectures import (
    ACTIVATIONS, ARCHITECTURES, build_model, get_architecture, layer_table, list_architectures, resolve_knobs,
)
from cnnkit.models.augment import RandomAffine, RandomFlip, RandomShift
from cnnkit.models.filters import (
    PREFILTER_DESCRIPTIONS, SHARPEN, KernelFilter, PerImageStandardization, canny_edges, filter_image,
)
from cnnkit.models.schedules import CyclicLR, ExponentialRamp, LRSuggestion, OneCycle, suggest_lr_range

__all__ = [
    "ACTIVATIONS", "ARCHITECTURES", "CyclicLR", "ExponentialRamp", "KernelFilter", "LRSuggestion", "OneCycle",
    "PREFILTER_DESCRIPTIONS", "PerImageStandardization", "RandomAffine", "RandomFlip", "RandomShift", "SHARPEN",
    "build_model", "canny_edges", "corruptions", "filter_image", "get_architecture", "inspection", "layer_table",
    "list_architectures", "predict", "resolve_knobs", "suggest_lr_range",
]
