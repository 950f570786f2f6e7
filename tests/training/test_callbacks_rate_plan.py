"""RatePlan: the learning rate of each step, as batch_lr logs it.

Backend-neutral: the suite also runs this file with KERAS_BACKEND=jax (tests/test_jax_backend.py).
"""

import pytest

from cnnkit.config import TrainConfig
from cnnkit.training.callbacks.rate_plan import RatePlan
from cnnkit.training.tricks import schedule_preview
from tiny_models import tiny_model


def test_the_rate_plan_tabulates_per_step_schedules_and_reads_other_rates_once_an_epoch():
    cyclic = TrainConfig(schedule="cyclic", max_lr=0.01, cycle_epochs=1.0, epochs=2)
    plan = RatePlan(cyclic, steps_per_epoch=10)
    assert [plan.at(step) for step in range(20)] == pytest.approx(schedule_preview(cyclic, 10).tolist())
    assert plan.at(10_000) == pytest.approx(plan.at(19))  # steps past the plan keep its last rate
    plateau = RatePlan(TrainConfig(schedule="plateau", learning_rate=0.01), steps_per_epoch=10)
    model = tiny_model(learning_rate=0.01)
    plateau.start_epoch(model)
    model.optimizer.learning_rate.assign(0.003)  # what ReduceLROnPlateau does between epochs
    assert plateau.at(5) == pytest.approx(0.01)
    plateau.start_epoch(model)
    assert plateau.at(15) == pytest.approx(0.003)
