"""A run's vocabulary: the names under which a cnnkit run keeps its metrics, artifacts and tags
in the tracking store. Training writes them; the store, the charts, the CLI and the pages read
them from here (tests spell them out, to check the contract from outside)."""

# ---- metrics logged every epoch (step: the epoch, 1-based) -----------------------------
LOSS = "loss"  # training loss, Keras' mean over the epoch
ACCURACY = "accuracy"  # training accuracy over the epoch
VAL_LOSS = "val_loss"  # loss on the validation split after the epoch
VAL_ACCURACY = "val_accuracy"  # accuracy on the validation split after the epoch
LR = "lr"  # learning rate of the epoch's last step
EPOCH_SECONDS = "epoch_seconds"  # wall time of the epoch, validation included
# Training time up to the end of the epoch: the sum of the epoch_seconds of the epochs that led to it,
# so loading data, building the network and the test evaluation are not counted, nor the time a stopped
# run waited to be resumed (it continues from its checkpoint's clock) nor a fork's start (it continues
# from its parent's at the fork's epoch). Not logged by runs trained before it was, nor by a run resumed
# from a checkpoint saved without it; `tracking.curves` then sums their epoch_seconds where it can.
ELAPSED_SECONDS = "elapsed_s"
EPOCH_METRICS = (LOSS, ACCURACY, VAL_LOSS, VAL_ACCURACY, LR, EPOCH_SECONDS, ELAPSED_SECONDS)
EPOCH_CURVES = (LOSS, VAL_LOSS, ACCURACY, VAL_ACCURACY, LR)  # the epoch metrics drawn as curves

# ---- metrics logged every optimizer step (step: the step, 1-based) ---------------------
BATCH_LOSS = "batch_loss"  # the batch's own loss (not the epoch's running mean)
BATCH_LR = "batch_lr"  # learning rate of the step; logged only when it changes
BATCH_METRICS = (BATCH_LOSS, BATCH_LR)

# ---- metrics logged once ---------------------------------------------------------------
PARAM_COUNT = "param_count"  # the model's weights, at step 0
FINAL_PREFIX = "final_"  # final_<loss, accuracy, val_loss, val_accuracy>: the last epoch's values
FINAL_ACCURACY = FINAL_PREFIX + ACCURACY
FINAL_VAL_ACCURACY = FINAL_PREFIX + VAL_ACCURACY
FINAL_METRICS = (LOSS, ACCURACY, VAL_LOSS, VAL_ACCURACY)  # the epoch metrics kept as final_<name>
VAL_ACCURACY_THRESHOLDS = (0.90, 0.95, 0.98, 0.99)  # the validation accuracies a run's time to reach is logged
TIME_TO_VAL_ACCURACY_PREFIX = "time_to_val_acc_"  # + the threshold in percent: the run's elapsed_s at the end of
# the first epoch whose val_accuracy reached it, logged at that epoch's step (a fork: its parent's time, if earlier)


def time_to_val_accuracy(threshold: float) -> str:
    """The metric holding when validation accuracy first reached `threshold` (0.9 → time_to_val_acc_90)."""
    return f"{TIME_TO_VAL_ACCURACY_PREFIX}{round(threshold * 100)}"


TIME_TO_METRICS = tuple(time_to_val_accuracy(threshold) for threshold in VAL_ACCURACY_THRESHOLDS)
EPOCHS_TRAINED = "epochs_trained"  # fewer than the epochs set after early stopping
TEST_PREFIX = "test_"  # test_<evaluation metric>: the evaluation on the test split
TEST_LOSS = TEST_PREFIX + "loss"
TEST_ACCURACY = TEST_PREFIX + "accuracy"
TEST_TOP3_ACCURACY = TEST_PREFIX + "top3_accuracy"
TEST_TOP5_ACCURACY = TEST_PREFIX + "top5_accuracy"
RESULT_METRICS = (FINAL_ACCURACY, FINAL_VAL_ACCURACY, TEST_ACCURACY, TEST_TOP3_ACCURACY, TEST_TOP5_ACCURACY,
                  TEST_LOSS)  # a run's results, side by side on Compare

# ---- artifacts -------------------------------------------------------------------------
MODEL_ARTIFACT = "model/model.keras"  # the trained model; its SHA-256 is tag MODEL_SHA256_TAG
MODEL_SUMMARY = "model/summary.txt"  # Keras' model summary
MLMODEL_ARTIFACT = "model/MLmodel"  # makes model/ an MLflow Model (tracking.mlflow_model); older runs lack it
CLASS_NAMES = "dataset/class_names.json"  # the class names, in label order
DATASET_SUMMARY = "dataset/summary.json"  # name, input shape, split counts, fingerprint
# The ids of the training examples the run left out (setting exclude_examples), one per line, sorted; only runs
# that excluded some have it. Their count and SHA-256 are the run's param exclude_examples (config.excluded_param).
EXCLUDED_EXAMPLES = "dataset/excluded_examples.txt"
# The training examples the run relabelled (setting relabel_examples) as the setting gives them: a CSV with id and
# new_label columns (config.relabels_csv), logged before the params; their count and SHA-256 are the param.
RELABEL_EXAMPLES = "dataset/relabel_examples.csv"
# What relabelling changed, written with the corrected copy once the data is loaded: id, old_label, new_label and
# the image's path in the copy (datasets.corrected_copy); the copy's place on the training machine is a tag.
RELABELLED_EXAMPLES = "dataset/relabelled_examples.csv"
EVALUATION_FOLDER = "evaluation"  # the test-split evaluation, one download for the files below
CONFUSION_MATRIX = "evaluation/confusion_matrix.json"  # class names and (true, predicted) counts
PER_CLASS = "evaluation/per_class.csv"  # class, precision, recall, f1, support
MISTAKES = "evaluation/mistakes.csv"  # every misclassified test image: index, true, predicted, probabilities
MISTAKE_IMAGES = "evaluation/mistake_images.npz"  # the most confident mistakes' images, by test index
EVALUATION_FILES = (CONFUSION_MATRIX, PER_CLASS, MISTAKES, MISTAKE_IMAGES)
ERROR_TRACEBACK = "error.txt"  # the traceback of a FAILED run
SNAPSHOT_FOLDER = "snapshots"  # runs with snapshot_every: the files below for every snapshot epoch
SNAPSHOT_SUFFIXES = (".keras", ".probabilities.npz")  # the model (optimizer state included); float16 test probabilities


def snapshot_model(epoch: int) -> str:
    """The model as it was after `epoch` (1-based), with its optimizer's state, for rewinding and forking."""
    return f"{SNAPSHOT_FOLDER}/epoch-{epoch:05d}{SNAPSHOT_SUFFIXES[0]}"


def snapshot_probabilities(epoch: int) -> str:
    """The test images' class probabilities after `epoch` (array "probabilities", float16, test order)."""
    return f"{SNAPSHOT_FOLDER}/epoch-{epoch:05d}{SNAPSHOT_SUFFIXES[1]}"


def snapshot_epoch(artifact_path: str) -> int | None:
    """The epoch of a snapshot's model file, None for any other file."""
    name = artifact_path.rsplit("/", 1)[-1]
    digits = name.removeprefix("epoch-").removesuffix(SNAPSHOT_SUFFIXES[0])
    return int(digits) if name.startswith("epoch-") and name.endswith(SNAPSHOT_SUFFIXES[0]) and digits.isdigit() else None


# ---- tags ------------------------------------------------------------------------------
RESERVED_TAG_PREFIXES = ("mlflow.", "cnnkit.", "keras.")  # tags written by MLflow and cnnkit, not by people
VERSION_TAG = "cnnkit.version"  # the cnnkit version that trained the run
GIT_COMMIT_TAG = "cnnkit.git_commit"  # the checkout's commit, "-dirty" with uncommitted changes
KERAS_BACKEND_TAG = "keras.backend"  # tensorflow, jax, ...
KERAS_VERSION_TAG = "keras.version"
HOST_TAG = "cnnkit.host"  # the machine whose process trains the run
PID_TAG = "cnnkit.pid"  # that process; with HOST_TAG, how a run whose process died is found
PID_STARTED_TAG = "cnnkit.pid_started"  # when that pid's process started (Linux clock ticks since boot): a reused pid is not it
PID_NAMESPACE_TAG = "cnnkit.pid_namespace"  # that pid's namespace (Linux): a container's pids are not this machine's
DEVICE_TAG = "cnnkit.device"  # what the run trained on, e.g. "GPU: NVIDIA H200", "2 × CPU" or "CPU (2 cores)"
DEVICE_COUNT_TAG = "cnnkit.device_count"  # how many devices it was spread over (the devices setting), e.g. "2"
DATA_FINGERPRINT_TAG = "cnnkit.data_fingerprint"  # the images and labels of every split, in order
TEST_FINGERPRINT_TAG = "cnnkit.test_fingerprint"  # the test split's images, in order
RELABELLED_COPY_TAG = "cnnkit.relabelled_copy"  # a relabelling run: its corrected copy's file or folder, where it trained
INPUT_SHAPE_TAG = "cnnkit.input_shape"  # the model's input, e.g. "28x28x1"
MODEL_SHA256_TAG = "cnnkit.model_sha256"  # SHA-256 of MODEL_ARTIFACT as logged; loading the model checks it
SHA256_TAG_PREFIX = "cnnkit.sha256/"  # + another checked artifact's path (the snapshots' files): its SHA-256 as logged
ERROR_TAG = "cnnkit.error"  # why a run ended FAILED or KILLED, one line for a person
RESUMED_FROM_EPOCH_TAG = "cnnkit.resumed_from_epoch"  # the checkpoint's epoch a resumed run continued from
MISSING_EPOCHS_TAG = "cnnkit.missing_epochs"  # a resumed run: epochs its checkpoint holds but the store lacks, one line
PARENT_RUN_TAG = "cnnkit.parent_run"  # a fork: the run whose snapshot it started from
PARENT_EPOCH_TAG = "cnnkit.parent_epoch"  # ... and that snapshot's epoch; the fork's epochs continue from it
SEARCH_TAG = "cnnkit.search"  # the search (Optuna study) whose trial the run is
SEARCH_TRIAL_TAG = "cnnkit.search_trial"  # the run's trial number in that search, from 0
# An ablation's tags keep the name it had before, "study", so runs saved by earlier versions still open.
ABLATION_ID_TAG = "cnnkit.study_id"  # the ablation (experiments.ablations) the run is one cell-and-seed of
ABLATION_NAME_TAG = "cnnkit.study"  # the ablation's name, for a person
ABLATION_CELL_TAG = "cnnkit.study_cell"  # the run's factor levels as JSON, {"factor": "level label", ...}
ABLATION_SEED_TAG = "cnnkit.study_seed"  # the run's seed within the ablation (also its seed param)
ABLATION_SIZE_TAG = "cnnkit.study_size"  # how many runs the whole ablation has
# A label audit (experiments.label_audit): k fold runs of one config, each trained without its fold's training examples.
LABEL_AUDIT_ID_TAG = "cnnkit.label_audit_id"  # the audit the run is one fold of
LABEL_AUDIT_NAME_TAG = "cnnkit.label_audit"  # the audit's name, for a person
LABEL_AUDIT_FOLD_TAG = "cnnkit.label_audit_fold"  # the run's fold, 1-based: the training examples it left out
LABEL_AUDIT_FOLDS_TAG = "cnnkit.label_audit_folds"  # how many folds (runs) the audit has
HEARTBEAT_TAG = "cnnkit.heartbeat"  # Unix seconds when the run's worker last said it is alive (every few seconds)
PROGRESS_TAG = "cnnkit.progress"  # the run's latest progress event as JSON (job_events), for a runner that watches the store


def sha256_tag(artifact_file: str) -> str:
    """The tag holding the SHA-256 of `artifact_file` as it was logged, which loading it checks
    (the model's keeps the name runs logged before snapshots were checked have)."""
    return MODEL_SHA256_TAG if artifact_file == MODEL_ARTIFACT else SHA256_TAG_PREFIX + artifact_file


# ---- liveness and uploaded data --------------------------------------------------------
PROGRESS = "progress"  # how far training got, 0..1, logged with the heartbeat (step: the optimizer step)
UPLOADED_DATASET_FOLDER = "dataset/upload"  # an uploaded CSV or zip, for a worker on another machine

# ---- system metrics (MLflow's names; step: the sample, from 0; `tracking.system_metrics`) --------
# Sampled every CNNKIT_SYSTEM_METRICS_SECONDS while the run trains. The machine's numbers, not the run's:
# runs training at once on one machine record the same use, all of theirs together.
SYSTEM_PREFIX = "system/"  # every system metric's name starts so (MLflow's UI groups them under it)
SYSTEM_CPU = SYSTEM_PREFIX + "cpu_utilization_percentage"  # the machine's CPU use over the interval, all cores, %
SYSTEM_MEMORY = SYSTEM_PREFIX + "system_memory_usage_megabytes"  # the machine's memory in use, MB (10⁶ bytes)


def system_gpu_utilization(gpu: int) -> str:
    """The use of NVIDIA GPU number `gpu` (0-based): % of the interval in which a kernel ran (NVML)."""
    return f"{SYSTEM_PREFIX}gpu_{gpu}_utilization_percentage"


# ---- MLflow dataset inputs (tracking.dataset_inputs) -----------------------------------
DATASET_CONTEXT_TAG = "mlflow.data.context"  # MLflow's input tag naming a dataset input's role in the run
DATASET_CONTEXTS = {"train": "training", "validation": "validation", "test": "testing"}  # a split -> its context
DATASET_DIGEST_CHARS = 16  # an input's digest: the first hex digits of a fingerprint (MLflow allows at most 36)


def dataset_input_name(dataset: str, split: str) -> str:
    """The name of a run's dataset input, e.g. "mnist/train" (`split`: a key of DATASET_CONTEXTS)."""
    return f"{dataset}/{split}"


# ---- calibration of the test probabilities (training.calibration_step) -----------------
# Logged once at a run's end (step: the last epoch), from the test probabilities as CALIBRATION_PROBABILITIES
# keeps them (float16). Temperature scaling (Guo et al. 2017) is fitted on the validation split; a run without
# one logs no temperature and no "_scaled" metrics. Runs trained before these existed have none of them.
CALIBRATION_PREFIX = "calibration/"  # every calibration metric's name starts so (MLflow's UI groups them)
TEMPERATURE = CALIBRATION_PREFIX + "temperature"  # T: probabilities softmax(log p / T); T > 1: the model was over-confident
TEST_ECE = CALIBRATION_PREFIX + "test_ece"  # expected calibration error on the test split, 15 bins, a fraction
TEST_MCE = CALIBRATION_PREFIX + "test_mce"  # maximum calibration error over those bins
TEST_NLL = CALIBRATION_PREFIX + "test_nll"  # mean negative log-likelihood of the true class
TEST_BRIER = CALIBRATION_PREFIX + "test_brier"  # multi-class Brier score
SCALED_SUFFIX = "_scaled"  # + to each: the same after temperature scaling
CALIBRATION_METRICS = (TEST_ECE, TEST_MCE, TEST_NLL, TEST_BRIER)
CALIBRATION = "calibration/reliability.json"  # temperature, and the reliability bins and metrics before and after
CALIBRATION_PROBABILITIES = "calibration/probabilities.npz"  # arrays test, test_labels, validation, validation_labels


def scaled_metric(metric: str) -> str:
    """A calibration metric after temperature scaling (calibration/test_ece → calibration/test_ece_scaled)."""
    return metric + SCALED_SUFFIX


# ---- the corruption sweep (training.corruption_sweep), logged on a finished run at step 0 ---------
# A sweep run again replaces them (the newest value is the run's). Accuracies on the sweep's first test images.
CORRUPTION_CLEAN_ACCURACY = "corruption_clean_accuracy"  # on those images as they are
CORRUPTION_MEAN_ACCURACY = "corruption_mean_accuracy"  # mean corruption accuracy (mCA): over every corruption and severity
CORRUPTION_DROP = "corruption_drop"  # CORRUPTION_CLEAN_ACCURACY - CORRUPTION_MEAN_ACCURACY
CORRUPTION_IMAGES = "corruption_images"  # how many test images the sweep corrupted
CORRUPTION_PREFIX = "corruption/"  # + "<corruption>/<severity>": the accuracy at one corruption and severity
CORRUPTION_TABLE = "robustness/corruptions.csv"  # corruption, severity, parameter, benchmark, accuracy: one row each


def corruption_accuracy(corruption: str, severity: int) -> str:
    """The metric holding the accuracy under `corruption` at `severity` (1-5), e.g. corruption/shot_noise/3."""
    return f"{CORRUPTION_PREFIX}{corruption}/{severity}"


# ---- training dynamics (training.callbacks.training_dynamics; setting dynamics_sample) --------
# Logged once when fit ends, for the epochs this process trained (a resumed run: those after its checkpoint).
# Arrays: label_probability (epochs x examples, float16: p(given label) after each epoch), predicted (same
# shape, uint8 or uint16: the argmax class), ids (the examples' `datasets.example_ids`), labels (int64),
# epochs (1-based), training_size (how many training examples the sample was drawn from). Runs trained
# before it existed, or with the setting 0, have none.
TRAINING_DYNAMICS = "dynamics/training_dynamics.npz"

# ---- a label audit's fold (experiments.label_audit), logged on the finished fold run ------------
# Arrays: ids (the fold's held-out training examples' ids, as exclude_examples names them), positions (their
# places in the audited config's training split), labels (given, int64), probabilities (float32, examples x classes:
# the fold run's model on the examples it never trained on), class_names. The audit's folds together give every
# training example of the audited config one out-of-fold probability row.
LABEL_AUDIT_HELD_OUT = "label_audit/held_out_probabilities.npz"
