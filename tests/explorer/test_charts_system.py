"""cnnkit.explorer.charts.system: system_use, the machine's CPU, memory and GPU use while runs trained."""

import pandas as pd

from chart_figures import has_shared_look, note_text
from cnnkit.explorer import charts

CPU, MEMORY = "system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"
GPU0, GPU1 = "system/gpu_0_utilization_percentage", "system/gpu_1_utilization_percentage"


def rows(run: str, metric: str, points: dict[float, float]) -> list[dict]:
    return [{"run_id": run.upper(), "run": run, "metric": metric, "seconds": seconds, "value": value}
            for seconds, value in points.items()]


def two_runs_on_the_cpu() -> pd.DataFrame:
    return pd.DataFrame(rows("a", CPU, {20.0: 60.0, 10.0: 50.0}) + rows("a", MEMORY, {10.0: 3000.0, 20.0: 3100.0})
                        + rows("b", CPU, {5.0: 90.0}) + rows("b", MEMORY, {5.0: 2000.0}))


def panel_of(fig, trace) -> str:
    """The y axis title of the panel a trace is drawn in."""
    axis = "yaxis" + trace.yaxis.removeprefix("y")
    return fig.layout[axis].title.text


def test_cpu_and_memory_are_panels_over_one_time_axis_one_colour_and_one_legend_entry_per_run():
    fig = charts.system_use(two_runs_on_the_cpu())
    assert [(t.name, panel_of(fig, t)) for t in fig.data] == [
        ("a", "CPU use (%)"), ("b", "CPU use (%)"), ("a", "Memory in use (MB)"), ("b", "Memory in use (MB)")]
    assert list(fig.data[0].x) == [10.0, 20.0] and list(fig.data[0].y) == [50.0, 60.0]  # in time order
    assert list(fig.data[2].y) == [3000.0, 3100.0]
    assert fig.data[0].line.color == fig.data[2].line.color != fig.data[1].line.color
    assert [t.showlegend for t in fig.data] == [True, True, False, False]
    assert fig.layout.yaxis.range == (0, 105)
    assert fig.layout.xaxis2.title.text == "Wall time since the run started (s)" and not fig.layout.xaxis.title.text
    assert "the whole machine's CPU and memory, not the run's own" in fig.layout.title.text
    assert has_shared_look(fig)


def test_a_long_run_is_drawn_in_minutes_with_its_clock_in_the_hover():
    fig = charts.system_use(pd.DataFrame(rows("a", CPU, {600.0: 40.0, 1800.0: 45.0})))
    assert list(fig.data[0].x) == [10.0, 30.0] and list(fig.data[0].customdata) == ["10:00", "30:00"]
    assert fig.layout.xaxis.title.text == "Wall time since the run started (min)"


def test_gpu_use_gets_its_own_panel_one_line_style_per_gpu_when_a_run_logged_it():
    history = pd.DataFrame(rows("a", CPU, {10.0: 50.0}) + rows("a", GPU0, {10.0: 90.0}) + rows("a", GPU1, {10.0: 20.0})
                           + rows("b", CPU, {10.0: 70.0}))
    fig = charts.system_use(history)
    gpu = [t for t in fig.data if panel_of(fig, t) == "GPU use (%)"]
    assert [(t.name, list(t.y), t.line.dash) for t in gpu] == [("a", [90.0], "solid"), ("a", [20.0], "dot")]
    assert "GPU 1 use (%)" in gpu[1].hovertemplate
    assert not any(panel_of(fig, t) == "Memory in use (MB)" for t in fig.data)  # nobody logged memory


def test_a_run_name_is_shown_as_typed():
    fig = charts.system_use(pd.DataFrame(rows("<b>x</b>", CPU, {1.0: 5.0})))
    assert fig.data[0].name == "&lt;b&gt;x&lt;/b&gt;"


def test_no_system_metrics_give_a_note_not_an_empty_chart():
    for empty in (pd.DataFrame(columns=["run_id", "run", "metric", "seconds", "value"]),
                  pd.DataFrame(rows("a", "system/disk_usage_megabytes", {1.0: 5.0}))):
        fig = charts.system_use(empty)
        assert note_text(fig) == ["no system metrics recorded for these runs"] and not fig.data
