"""Plotly figures for the explorer: plain data (DataFrames, numpy arrays, lists) in, a Figure out.

Pure functions: no Keras, MLflow or Streamlit here. Every figure goes through `_style._style`, so all
share one look (template, margins, legend above the plot), and an empty input gives a figure that
says what is missing instead of raising. One module per view; pages use this face:
`from cnnkit.explorer import charts; charts.learning_curves(...)`.
"""

from cnnkit.explorer.charts._style import OTHER, RIGHT, WRONG
from cnnkit.explorer.charts.ablation import band_curves, effects_chart
from cnnkit.explorer.charts.class_accuracy import class_accuracy
from cnnkit.explorer.charts.classify import computer_vs_human, gallery, probability_bars
from cnnkit.explorer.charts.compare import RESULT_METRICS, compare_curves, per_class_scores, results_bars
from cnnkit.explorer.charts.confusion import confusion_difference, confusion_matrix
from cnnkit.explorer.charts.data import class_distribution, samples_by_class
from cnnkit.explorer.charts.data_map import data_map_scatter
from cnnkit.explorer.charts.embedding_map import embedding_scatter
from cnnkit.explorer.charts.images import image_grid, png
from cnnkit.explorer.charts.robustness import corruption_heatmap
from cnnkit.explorer.charts.network import (GRAD_CAM_CAPTION, HEAT_SHOWN_FROM, feature_map_grid, grad_cam,
                                            grad_cam_overlay)
from cnnkit.explorer.charts.pairs import pair_gallery
from cnnkit.explorer.charts.reliability import reliability_diagram
from cnnkit.explorer.charts.search import search_parallel_coordinates
from cnnkit.explorer.charts.smoothing import ema, moving_average
from cnnkit.explorer.charts.system import system_use
from cnnkit.explorer.charts.training import X_AXES, batch_loss, learning_curves, learning_rate, lr_finder

_CHARTS = (band_curves, batch_loss, class_accuracy, class_distribution, compare_curves, computer_vs_human,
           confusion_difference, confusion_matrix, corruption_heatmap, data_map_scatter, effects_chart, ema,
           embedding_scatter, feature_map_grid, gallery, grad_cam, grad_cam_overlay, image_grid, learning_curves,
           learning_rate, lr_finder, moving_average, pair_gallery, per_class_scores, png, probability_bars,
           reliability_diagram, results_bars, samples_by_class, search_parallel_coordinates, system_use)
# Named from the functions themselves: a chart's name can be a metric's (batch_loss), which only
# run_schema spells out.
__all__ = ["GRAD_CAM_CAPTION", "HEAT_SHOWN_FROM", "OTHER", "RESULT_METRICS", "RIGHT", "WRONG", "X_AXES",
           *(chart.__name__ for chart in _CHARTS)]
