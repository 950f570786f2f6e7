"""The Keras callbacks of a run: RunMonitor logs and reports its batches and epochs, PassMonitor the
batches of a validation or prediction pass, CancelCheck stops it at the next batch once cancelled, TrainingDynamics records how the model sees
each (sampled) training example after every epoch, and
the plateau schedule and early stopping come from the config (`training_callbacks`)."""

from cnnkit.training.callbacks.cancel_check import CancelCheck
from cnnkit.training.callbacks.configured import CARRIED_STATE, training_callbacks
from cnnkit.training.callbacks.pass_monitor import PassMonitor
from cnnkit.training.callbacks.run_monitor import RunMonitor
from cnnkit.training.callbacks.training_dynamics import TrainingDynamics

__all__ = ["CARRIED_STATE", "CancelCheck", "PassMonitor", "RunMonitor", "TrainingDynamics", "training_callbacks"]
