"""How long the data map takes to draw in a browser (issue 24's target: 60,000 points in at most 2 s):
the Data atlas page's figure (`charts.data_map_scatter`, WebGL) drawn by plotly.js in Debian's headless
Chromium, for `--points` examples and for a 600-point baseline drawn in the same browser, alternated.

    .venv/bin/python benchmarks/data_map_draw.py [--points 60000] [--rounds 5]

Each draw is `Plotly.newPlot` into a fresh div of the atlas's width, timed in the page until plotly.js
has drawn (its promise resolved and two animation frames passed, so the WebGL canvas is painted). The
points are a synthetic map of the shape MNIST gives (most examples easy, a tail of hard ones); only the
count matters to the draw. Prints `uptime` first and last: a loaded machine draws slower. The figure's
travel from the server (binary float32 arrays) and Streamlit's own rerun are not in this number; the
atlas's whole path on MNIST is in the issue-24 note.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
from pathlib import Path

import numpy as np
import plotly
from playwright.sync_api import sync_playwright

from cnnkit.explorer import charts

BASELINE_POINTS = 600
DRAW = """async (figure) => {
  const div = document.createElement("div");
  div.style.width = "1100px";
  document.body.replaceChildren(div);
  const started = performance.now();
  await Plotly.newPlot(div, figure.data, figure.layout);
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return performance.now() - started;
}"""


def synthetic_map(points: int, seed: int = 0) -> dict:
    """The atlas's figure for `points` examples as plotly.js takes it (JSON, binary arrays base64)."""
    rng = np.random.default_rng(seed)
    confidence = np.clip(1 - rng.gamma(0.3, 0.15, points), 0, 1)
    variability = np.clip(rng.gamma(1.0, 0.05, points) * (1 - confidence) * 4, 0, 0.5)
    correctness = np.round(np.clip(confidence + rng.normal(0, 0.1, points), 0, 1) * 3) / 3
    figure = charts.data_map_scatter(confidence, variability, correctness, title=f"Data map · {points:,} examples")
    return json.loads(figure.to_json())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    figures = {BASELINE_POINTS: synthetic_map(BASELINE_POINTS), args.points: synthetic_map(args.points)}
    script = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    times: dict[int, list[float]] = {count: [] for count in figures}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_script_tag(path=str(script))
        for count, figure in figures.items():
            page.evaluate(DRAW, figure)  # a first draw of each size warms plotly.js and the WebGL context
        for _ in range(args.rounds):
            for count, figure in figures.items():
                times[count].append(page.evaluate(DRAW, figure) / 1000)
        browser.close()
    for count, seconds in times.items():
        print(f"{count:>7,} points: median {statistics.median(seconds):.3f} s "
              f"(min {min(seconds):.3f}, max {max(seconds):.3f}, {args.rounds} draws)")
    ratio = statistics.median(times[args.points]) / statistics.median(times[BASELINE_POINTS])
    print(f"{args.points:,} points take {ratio:.2f}× the {BASELINE_POINTS}-point baseline's draw")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
