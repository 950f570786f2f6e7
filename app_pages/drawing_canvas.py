"""A canvas to draw a digit on: black ink on white paper, sent to Python as a PNG when a stroke ends.

Built on Streamlit's own custom components (v2, inline HTML/JS), so no extra package is needed.
"""

import streamlit as st

from cnnkit.datasets import decode_data_url

_HTML = """
<div class="pad">
  <canvas width="280" height="280" aria-label="Drawing canvas" title="Draw with the mouse, a pen or a finger"></canvas>
  <div class="tools">
    <label>Brush <input type="range" min="8" max="40" value="22" aria-label="Brush size"></label>
    <button type="button">Clear</button>
  </div>
</div>
"""

_CSS = """
.pad { display: flex; flex-direction: column; gap: 0.5rem; width: 280px; font-family: var(--st-font); }
canvas { border: 1px solid var(--st-border-color, #ccc); border-radius: 0.5rem; cursor: crosshair;
         touch-action: none; background: white; }
.tools { display: flex; justify-content: space-between; align-items: center; color: var(--st-text-color); }
button { font: inherit; padding: 0.25rem 0.9rem; border-radius: 0.5rem; cursor: pointer;
         border: 1px solid var(--st-border-color, #ccc); background: var(--st-background-color); color: inherit; }
"""

_JS = """
export default function ({ parentElement, setStateValue }) {
  const canvas = parentElement.querySelector("canvas");
  const brush = parentElement.querySelector("input");
  const ctx = canvas.getContext("2d");
  const paper = () => { ctx.fillStyle = "white"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  if (!canvas.dataset.ready) { paper(); canvas.dataset.ready = "1"; }
  let last = null;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  const line = (from, to) => {
    ctx.strokeStyle = "black"; ctx.lineWidth = Number(brush.value); ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(...from); ctx.lineTo(...to); ctx.stroke();
  };
  canvas.onpointerdown = (event) => { canvas.setPointerCapture(event.pointerId); last = at(event); line(last, last); };
  canvas.onpointermove = (event) => { if (last) { const point = at(event); line(last, point); last = point; } };
  canvas.onpointerup = canvas.onpointercancel = () => {
    if (last) { last = null; setStateValue("image", canvas.toDataURL("image/png")); }
  };
  parentElement.querySelector("button").onclick = () => { paper(); setStateValue("image", null); };
}
"""

_canvas = st.components.v2.component("cnnkit_drawing_canvas", html=_HTML, css=_CSS, js=_JS)


def drawing_canvas(key: str) -> bytes | None:
    """The PNG drawn so far (None before the first stroke or after Clear)."""
    result = _canvas(key=key, default={"image": None}, on_image_change=lambda: None)
    return decode_data_url(result.image) if result.image else None
