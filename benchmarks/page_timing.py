"""How long the app's pages and their slow controls take to become idle, as a person sees it.

Trains three tiny digits runs through the command line into a temporary store, starts the app on
it (as tests/e2e/test_e2e.py does) and drives Debian's headless Chromium at 1400x1000:

- every page, cold (its first visit in this server process) and warm (the median of three later
  visits through the sidebar), against a target of 2 s warm;
- every slow control (Train: dataset, architecture, an augmentation slider; Kernels: a Canny
  slider, an upload; Compare and Inspect: switching a run, opening a tab (only the open tab is
  drawn); Classify: an upload; Runs: the search filter; Train's jobs: Watch on a running job, showing
  and folding the ended jobs; the menu's Dark and Light themes on Inspect's charts, redrawn in the
  browser with no rerun), against a target of 1 s;
- the CPU seconds the server process spends in 30 s while an idle Train page is open (no job
  queued or running; one launched from the page has finished), with the Runs page's figure beside it.

"Idle" is the moment the browser has received the ScriptFinished message of the rerun the action
started (read off the websocket), Streamlit's running indicator is gone, no element is stale or
still a skeleton, the page's title is shown and every visible plotly chart is drawn. Polled every
50 ms, so figures are good to about 0.1 s. Beside each time, "script done" is when that message
arrived: the server's share (script run and transfer); the rest is the browser drawing. Run from
the project root (--shots DIR also saves a screenshot of every page and control):

    CNNKIT_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/page_timing.py

With CNNKIT_DATA_DIR holding Fashion-MNIST and MNIST the dataset control switches to each and
back, else it is left out: Fashion-MNIST decoded for the first time (a figure without target), MNIST
with its decoded copy on disk, as every load after the first finds it (decoded in another process
before the app starts; the benchmark keeps its copies in its own CNNKIT_CACHE_DIR).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.e2e.test_e2e: how the app is started and Chromium launched

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from tests.e2e.test_e2e import CHROMIUM_FLAGS, ScriptRuns, served  # noqa: E402

PAGE_TARGET_S, CONTROL_TARGET_S = 2.0, 1.0
IDLE_CPU_TARGET = 1.0  # CPU seconds per 30 s: an open page with nothing to do should cost next to nothing
VIEWPORT = {"width": 1400, "height": 1000}
POLL_S = 0.05
FAILURE_SHOT = ROOT / "test-artifacts" / "page_timing-failure.png"
PAGES = [("Train", "Train"), ("Runs", "Runs"), ("Compare", "Compare runs"), ("Inspect", "Inspect a run"),
         ("Classify", "Classify images"), ("Kernels", "Image kernels")]  # sidebar link, page title
FULL_RUN, FRAGMENT_RUN = ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY

IDLE_JS = """(title) => {
    if (document.querySelector('[data-testid="stStatusWidget"], [data-stale="true"], [data-testid="stSkeleton"], '
                               + '[data-testid="stSpinner"]')) return false;
    const heading = [...document.querySelectorAll('h1')].some(h => h.textContent.trim().startsWith(title));
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].filter(c => c.offsetParent !== null);
    return heading && charts.every(c => c.querySelector('.main-svg') !== null);
}"""


@dataclass(frozen=True)
class Timing:
    idle_s: float  # from the action until the page is idle in the browser
    script_s: float  # ... until its ScriptFinished message arrived: the server's part (and the transfer)

    @staticmethod
    def median(timings: list[Timing]) -> Timing:
        return Timing(statistics.median(t.idle_s for t in timings), statistics.median(t.script_s for t in timings))


@dataclass
class Figure:
    what: str
    value: float
    target: float | None  # None: shown for reference
    unit: str = "s"
    script_s: float | None = None

    @property
    def missed(self) -> bool:
        return self.target is not None and self.value > self.target

    def row(self) -> str:
        target = "–" if self.target is None else f"≤ {self.target:g} {self.unit}"
        mark = "" if self.target is None else "MISS" if self.missed else "pass"
        script = "" if self.script_s is None else f"{self.script_s:.2f} s"
        return f"| {self.what} | {self.value:.2f} {self.unit} | {script} | {target} | {mark} |"


class Browser:
    """One tab on the app, and the stopwatch for what it does."""

    def __init__(self, context, url: str, shots: Path | None = None):
        self.page = context.new_page()
        self.page.set_default_timeout(180_000)
        self.runs = ScriptRuns(self.page)
        self.url, self.shots, self.taken = url, shots, 0

    def shot(self, name: str) -> None:
        """A full-page screenshot into `shots` (if given), numbered in the order taken."""
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.taken += 1
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            self.page.screenshot(path=str(self.shots / f"{self.taken:02d}-{slug}.png"), full_page=True)

    def timed(self, action, title: str, run: int | None = FULL_RUN, timeout: float = 240) -> Timing:
        """How long from `action()` to idle (see the module docstring) under `title`; `run`: the
        ScriptFinished status the action's rerun ends with (a fragment's, for a control inside one),
        None for an action the browser answers alone (its "script done" is then 0)."""
        before, script_done = self.runs.count(run), None if run is not None else 0.0
        start = time.monotonic()
        action()
        while time.monotonic() - start < timeout:
            if run is None or self.runs.count(run) > before:
                script_done = script_done or time.monotonic() - start
                if self.page.evaluate(IDLE_JS, title):
                    return Timing(time.monotonic() - start, script_done)
            self.page.wait_for_timeout(POLL_S * 1000)
        raise TimeoutError(f"{title} was not idle {timeout} s after the action")

    def visit(self, link: str, title: str) -> Timing:
        return self.timed(lambda: self.page.get_by_role("link", name=link, exact=True).click(), title)

    def choose(self, label: str, option) -> callable:
        """An action picking `option` (text or pattern) in the selectbox `label`; the list opens first, untimed."""
        def action():
            self.page.get_by_role("option", name=option).first.click()
        self.page.get_by_role("combobox", name=label).click()
        return action

    def theme(self, name: str) -> callable:
        """An action picking the theme `name` ("Dark", "Light") in the app's menu, which opens first,
        untimed; done when the app has its colour scheme (its charts are redrawn in the browser)."""
        self.page.get_by_test_id("stMainMenu").click()
        item = self.page.get_by_test_id(f"stMainMenuItem-theme-{name}")

        def action():
            item.click()
            self.page.wait_for_function(
                "scheme => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).colorScheme === scheme",
                arg=name.lower(), polling=int(POLL_S * 1000))
            self.page.keyboard.press("Escape")  # the menu closes
        return action

    def until_visible(self, action, target, state: str = "visible", timeout: float = 240) -> Timing:
        """How long from `action()` until `target` (a locator) is in `state`, for what the browser does
        without a rerun (opening or folding an expander): its script_s is 0."""
        start = time.monotonic()
        action()
        target.wait_for(state=state, timeout=timeout * 1000)
        return Timing(time.monotonic() - start, 0.0)

    def slider_step(self, label: str) -> callable:
        thumb = self.page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
        thumb.focus()
        return lambda: thumb.press("ArrowRight")


def store_env() -> dict[str, str]:
    """The environment without MLFLOW_TRACKING_URI: the runs and the app use ./mlruns of their folder."""
    return {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}


def train_runs(workdir: Path, count: int) -> None:
    """`count` tiny digits runs (1 epoch, different seeds) through the command line."""
    for seed in range(count):
        subprocess.run([sys.executable, "-m", "cnnkit", "train", "--dataset", "digits", "--epochs", "1",
                        "--set", f"seed={seed}", "--run-name", f"timing {seed}"],
                       cwd=workdir, env=store_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(browser: Browser, pid: int, link: str, title: str, seconds: float) -> float:
    """CPU seconds the server spends per 30 s with `link`'s page open and nothing to do."""
    browser.visit(link, title)
    browser.page.wait_for_timeout(3000)  # let late work (charts, caches) finish
    start = cpu_seconds(pid)
    browser.page.wait_for_timeout(seconds * 1000)
    return (cpu_seconds(pid) - start) * 30 / seconds


def launch_from_the_train_page(tab: Browser) -> None:
    """One run of the Train form as it opens (digits), watched to its end: the idle Train page then
    shows a finished job, as it does for a person who has trained something."""
    tab.visit("Train", "Train")
    tab.page.get_by_role("button", name="Launch training").click()
    tab.page.get_by_text("finished after").first.wait_for(timeout=600_000)


def watch_and_fold(tab: Browser, record) -> None:
    """Two runs launched from the Train page: Watch on the older while both run, then both cancelled,
    and the folded list of ended jobs shown and folded again."""
    page = tab.page
    tab.visit("Train", "Train")
    ended = page.get_by_text(re.compile(r"^\d+ ended jobs?$"))
    for name in ("timing watch 1", "timing watch 2"):
        page.get_by_role("textbox", name="Run name (optional)").fill(name)
        page.get_by_role("textbox", name="Run name (optional)").press("Enter")
        page.get_by_role("button", name="Launch training").click()
        page.get_by_text(f"Live view · {name}").wait_for()
    record("Train: Watch a running job", tab.timed(
        lambda: page.get_by_role("button", name="Watch", exact=True).first.click(), "Train", run=FRAGMENT_RUN))
    page.get_by_text("Live view · timing watch 1").wait_for()
    while page.get_by_role("button", name="Cancel", exact=True).count():
        page.get_by_role("button", name="Cancel", exact=True).first.click()
        page.wait_for_timeout(1000)
    page.get_by_role("button", name="Cancel").first.wait_for(state="detached")  # "Cancelling…" too
    first_card_watch = page.get_by_role("button", name="Watch", exact=True).first
    record("Train: show the ended jobs (no rerun: until the first card is shown)",
           tab.until_visible(lambda: ended.click(), first_card_watch))
    record("Train: fold the ended jobs (no rerun: until hidden)",
           tab.until_visible(lambda: ended.click(), page.get_by_text("timing watch 1", exact=True).first, "hidden"))


def available(name: str) -> bool:
    """Whether a dataset loads offline here (a copy under CNNKIT_DATA_DIR), for the dataset control."""
    return (Path(os.environ.get("CNNKIT_DATA_DIR", "/nonexistent")) / name).is_dir()


def decode_once(name: str, workdir: Path) -> None:
    """Load a dataset in another process, as any earlier use on this machine did: its decoded copy is
    then in CNNKIT_CACHE_DIR, and choosing it in the app measures what every later visit costs."""
    subprocess.run([sys.executable, "-c", f"from cnnkit.datasets import load_dataset; load_dataset({name!r})"],
                   cwd=workdir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def write_pictures(folder: Path) -> tuple[Path, Path]:
    """A 640x480 photo-like PNG for Kernels and a dark digit on light paper for Classify."""
    gradient = Image.linear_gradient("L").resize((640, 480))
    photo = Image.merge("RGB", (gradient, gradient.rotate(90, expand=False), gradient.transpose(Image.FLIP_LEFT_RIGHT)))
    photo.save(folder / "photo.png")
    digit = Image.new("L", (120, 90), 255)
    for x in range(55, 65):
        for y in range(15, 75):
            digit.putpixel((x, y), 20)
    digit.save(folder / "digit.png")
    return folder / "photo.png", folder / "digit.png"


def measure(url: str, pid: int, folder: Path, cpu_window: float, shots: Path | None) -> list[Figure]:
    photo, digit = write_pictures(folder)
    figures: list[Figure] = []

    def record(what: str, value: Timing | float, target: float | None = CONTROL_TARGET_S, unit: str = "s") -> None:
        timing = value if isinstance(value, Timing) else None
        figures.append(Figure(what, timing.idle_s if timing else value, target, unit, timing and timing.script_s))
        print(figures[-1].row(), flush=True)
        if target == CONTROL_TARGET_S:
            tab.shot(what)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        context = chromium.new_context(viewport=VIEWPORT)
        tab = Browser(context, url, shots)
        try:
            steps(tab, record, photo, digit, pid, cpu_window)
        except BaseException:
            FAILURE_SHOT.parent.mkdir(parents=True, exist_ok=True)
            tab.page.screenshot(path=str(FAILURE_SHOT), full_page=True)
            print(f"failed; the page as it was: {FAILURE_SHOT}", file=sys.stderr)
            raise
        finally:
            chromium.close()
    return figures


def steps(tab: Browser, record, photo: Path, digit: Path, pid: int, cpu_window: float) -> None:
    """Visit every page and use every slow control, recording each figure."""
    page, url = tab.page, tab.url

    cold = {"Train": tab.timed(lambda: page.goto(url), "Train")}
    for link, title in PAGES[1:]:
        cold[link] = tab.visit(link, title)
    warm = {link: [] for link, _ in PAGES}
    for lap in range(3):
        for link, title in PAGES:
            warm[link].append(tab.visit(link, title))
            if lap == 2:
                tab.shot(link)
    for link, _ in PAGES:
        record(f"{link}: cold (first visit)", cold[link], None)
        record(f"{link}: warm (median of 3 visits)", Timing.median(warm[link]), PAGE_TARGET_S)

    tab.visit("Train", "Train")
    if available("fashion-mnist"):
        record("Train: choose Fashion-MNIST, its first load on this machine (decodes its gzip files)",
               tab.timed(tab.choose("Dataset", re.compile("^fashion_mnist ")), "Train"), None)
    if available("mnist"):  # decoded by `decode_once` before the app started
        record("Train: choose MNIST (decoded copy on disk, as after any earlier load)",
               tab.timed(tab.choose("Dataset", re.compile("^mnist ")), "Train"))
        record("Train: choose digits again", tab.timed(tab.choose("Dataset", re.compile("^digits ")), "Train"))
    page.get_by_role("tab", name="2 · Model").click()
    record("Train: change architecture", tab.timed(tab.choose("Architecture", re.compile("^cifar10_bn_cnn")), "Train"))
    record("Train: change architecture back",
           tab.timed(tab.choose("Architecture", re.compile("^kaggle_mnist_cnn")), "Train"))
    page.get_by_role("tab", name="3 · Tricks").click()
    for step in (1, 2):
        record(f"Train: move the rotation slider ({step})", tab.timed(tab.slider_step("Random rotation"), "Train"))

    tab.visit("Kernels", "Image kernels")
    for step in (1, 2):
        record(f"Kernels: move a Canny slider ({step})", tab.timed(tab.slider_step("Canny blur"), "Image kernels"))
    record("Kernels: upload a 640x480 picture",
           tab.timed(lambda: page.locator("input[type=file]").set_input_files(str(photo)), "Image kernels"))

    tab.visit("Compare", "Compare runs")
    record("Compare: add a third run", tab.timed(tab.choose("Runs to compare", re.compile("^timing 0")), "Compare runs"))
    runs = page.get_by_role("combobox", name="Runs to compare")
    record("Compare: remove it again", tab.timed(lambda: runs.press("Backspace"), "Compare runs"))
    runs.press("Escape")  # close the run list: while it is open the rest of the page is hidden from roles
    for name in ("Confusion", "Mistakes"):  # only the open tab is drawn: opening one is a rerun
        record(f"Compare: open the {name} tab",
               tab.timed(lambda: page.get_by_role("tab", name=name).click(), "Compare runs"))

    tab.visit("Inspect", "Inspect a run")
    record("Inspect: switch the run", tab.timed(tab.choose("Run", re.compile("^timing 1")), "Inspect a run"))
    record("Inspect: switch back", tab.timed(tab.choose("Run", re.compile("^timing 2")), "Inspect a run"))
    record("Inspect: open the Feature maps tab",
           tab.timed(lambda: page.get_by_role("tab", name="Feature maps").click(), "Inspect a run"))

    for theme in ("Dark", "Light"):  # Streamlit restyles the page and its charts in the browser: no rerun
        record(f"Inspect: switch to the {theme.lower()} theme", tab.timed(tab.theme(theme), "Inspect a run", run=None))

    tab.visit("Classify", "Classify images")
    record("Classify: upload an image",
           tab.timed(lambda: page.locator("input[type=file]").first.set_input_files(str(digit)), "Classify images"))

    tab.visit("Runs", "Runs")
    search = page.get_by_role("textbox", name="Search name, run id or tag")
    record("Runs: filter by text", tab.timed(lambda: (search.fill("timing 1"), search.press("Enter")), "Runs",
                                              run=FRAGMENT_RUN))
    record("Runs: clear the filter", tab.timed(lambda: (search.fill(""), search.press("Enter")), "Runs",
                                                run=FRAGMENT_RUN))

    watch_and_fold(tab, record)
    launch_from_the_train_page(tab)
    runs_cpu = idle_cpu(tab, pid, "Runs", "Runs", cpu_window)
    train_cpu = idle_cpu(tab, pid, "Train", "Train", cpu_window)
    record("Train page open, no job: server CPU per 30 s", train_cpu, IDLE_CPU_TARGET, "CPU-s")
    record("Runs page open (reference): server CPU per 30 s", runs_cpu, None, "CPU-s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-window", type=float, default=30.0, help="seconds to watch the idle pages' CPU time")
    parser.add_argument("--shots", type=Path, help="save a screenshot of every page and every control's result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cnnkit-timing-") as folder:
        workdir = Path(folder)
        os.environ["CNNKIT_CACHE_DIR"] = str(workdir / "decoded")  # no decoded copies from earlier benchmarks
        print(f"training 3 tiny digits runs in {workdir} …", flush=True)
        train_runs(workdir, 3)
        if available("mnist"):
            decode_once("mnist", workdir)
        print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
        with served(workdir) as (url, server):
            print("| figure | measured (to idle) | script done | target | |\n|---|---|---|---|---|", flush=True)
            figures = measure(url, server.pid, workdir, args.cpu_window, args.shots)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    misses = [figure for figure in figures if figure.missed]
    print(f"{len(misses)} of {sum(f.target is not None for f in figures)} targets missed")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
