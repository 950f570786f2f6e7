"""Test files run again with Keras on JAX, the backend the GPU install runs the app on.

Each file runs in a fresh pytest process with KERAS_BACKEND=jax, since Keras fixes its backend
when it is first imported, and where `import tensorflow` fails, as on the GPU install, which has
no TensorFlow. Under JAX already, this file skips itself: the files run directly.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Files whose tests must also pass on JAX: every page's AppTests, the augmentation geometry and the
# training speed-ups (mixed precision, weight averaging; the run monitor, the rate plan and test-time
# flip they rely on), and that a run's randomness comes from its seed alone. Add more here.
ON_JAX = ["tests/pages/test_pages.py", "tests/pages/test_kernels_page.py", "tests/pages/test_runs_page.py", "tests/pages/test_inspect_page.py",
          "tests/pages/test_classify_page.py", "tests/models/test_augment.py", "tests/training/test_logged_training.py",
          "tests/training/test_callbacks_run_monitor.py", "tests/training/test_callbacks_rate_plan.py", "tests/training/test_prediction.py",
          "tests/tracking/test_model_integrity.py", "tests/tracking/test_mlflow_model.py", "tests/experiments/test_export.py",
          "tests/training/test_epoch_snapshots.py", "tests/training/test_seeding.py", "tests/models/test_corruptions.py"]
# test_pages.py on JAX: its fast core (which launches a run and sees it finish) and one Compare test.
# Its other slow tests check Inspect and Classify, whose own files run here in full, or train runs to
# check the visitor cap and the LR finder's panel; in full it took 5.5 of CI's 28 minutes.
# test_seeding.py on JAX: all but the search's twin trials, which train as the twin jobs do, through the same manager.
SELECTION = {"tests/pages/test_pages.py": ["-m", "not slow or on_jax"],
             "tests/training/test_seeding.py": ["-k", "not search_trials"],
             # every corruption's shape and range at every severity on grey digits and colour images (~1 min)
             "tests/models/test_corruptions.py": ["-k", "keeps_the_shape and not 28x28"]}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(keras.backend.backend() == "jax", reason="already on JAX: run the files themselves"),
]


@pytest.mark.parametrize("test_file", ON_JAX)
def test_the_file_passes_with_keras_on_jax(test_file, tmp_path):
    pytest.importorskip("jax")  # in requirements-dev.txt, so CI runs this
    (tmp_path / "tensorflow.py").write_text('raise ImportError("the GPU install has no TensorFlow")\n')
    python_path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file,
                           *SELECTION.get(test_file, [])],
                          cwd=ROOT, env={**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": python_path},
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{test_file} failed on JAX:\n{(done.stdout + done.stderr)[-4000:]}"
