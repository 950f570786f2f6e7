"""Text that people typed (run names, tags, ablation and search names, uploaded file names) shown as
itself: Streamlit renders markdown (and its :shortcodes:, $math$) in st.markdown, captions, alerts,
subheaders and toasts, and Plotly renders a subset of HTML in titles, legends, ticks and hovers.

`markdown(text)` for the first, `plotly(text)` for the second: each escapes, it does not remove.
"""

from __future__ import annotations

import html
import re

_INLINE = re.compile(r"([\\`*_\[\]<>$~:&|])")  # emphasis, code, links, HTML, math, strikethrough, :shortcodes:, entities
_LINE_START = re.compile(r"^([#>+=-]|\d+(?=[.)]))")  # headings, quotes, lists: only at the start of a line


def markdown(text: object) -> str:
    """`text` as literal characters inside Streamlit markdown, on one line."""
    escaped = _INLINE.sub(r"\\\1", " ".join(str(text).split("\n")).strip())  # indented 4 spaces: a code block
    return _LINE_START.sub(lambda found: f"{found[1]}\\" if found[1][0].isdigit() else f"\\{found[1]}", escaped)


def plotly(text: object) -> str:
    """`text` as literal characters in a Plotly title, legend, tick label or hover label."""
    return html.escape(str(text), quote=False)
