import optuna

from cnnkit.experiments import search_figures
from cnnkit.experiments.search import parse_range

RATE = parse_range("learning_rate=1e-4:1e-1:log")

def study_with(trials: list[dict]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    distributions = {"learning_rate": RATE.distribution(), "batch_size": parse_range("batch_size=16:64").distribution()}
    for value, params in trials:
        study.add_trial(optuna.trial.create_trial(params=params, value=value,
                                                  distributions={k: distributions[k] for k in params}))
    return study


def test_figures_are_optunas_own():
    study = study_with([(0.5, {"learning_rate": 0.001, "batch_size": 16}), (0.7, {"learning_rate": 0.01, "batch_size": 32}),
                        (0.6, {"learning_rate": 0.003, "batch_size": 64})])
    figures = search_figures.figures(study)
    assert figures.notes == {}
    assert figures.history.layout.title.text == "Optimization History Plot"
    assert figures.importances.layout.title.text == "Hyperparameter Importances"


def test_importances_need_two_settings_and_two_finished_trials():
    one_setting = search_figures.figures(study_with([(0.5, {"learning_rate": 0.001}), (0.7, {"learning_rate": 0.01})]))
    assert one_setting.importances is None and "at least two searched settings" in one_setting.notes["importances"]
    assert one_setting.history is not None
    empty = search_figures.figures(study_with([]))
    assert empty.history is None and "once a trial has finished" in empty.notes["history"]


