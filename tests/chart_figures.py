"""Reading plotly figures back in chart tests: note texts, an image trace's pixels, the shared look."""

import base64
import io

import numpy as np
from PIL import Image


def note_text(fig):
    return [a.text for a in fig.layout.annotations]


def pixels(fig, trace: int = 0) -> np.ndarray:
    """The picture an image trace shows, decoded from its PNG data URL, as (H, W, 3) uint8."""
    source = fig.data[trace].source
    assert source.startswith("data:image/png;base64,") and fig.data[trace].z is None
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"))


def has_shared_look(fig):
    """The white template, and the legend in rows under the plot, where a legend wrapping on a narrow
    page cannot grow into the title."""
    legend = fig.layout.legend
    return (fig.layout.template.layout.paper_bgcolor == "white" and legend.orientation == "h"
            and (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom"))
