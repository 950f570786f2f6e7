"""One frozen, validated config per run, and everything that speaks of settings.

- `settings`: every setting declared once (label, help, bounds, choices, form tab); messages
  that name a setting by its on-screen label;
- `train_config`: `TrainConfig`, validated against those declarations, as JSON, MLflow params,
  `key=value` text and one-line summaries;
- `excluded_examples`: the Exclude examples setting's ids as typed, read from a file (CLI `@FILE`) and
  recorded as a run's param (count and SHA-256);
- `relabelled_examples`: the Relabel examples setting's `id,new_label` lines, likewise, and what refuses them
  before any data is read;
- `presets`: the seeds' configs by name; `settings_listing`: the settings as a table (CLI);
- `server_paths`: which server paths a config may name (`ServerPaths.confine`, every job's check);
- `data_loading`: a config to its loaded, split data, the datasets' complaints under the
  setting's label, and the split's warnings.
"""

from cnnkit.config import data_loading
from cnnkit.config.excluded_examples import (
    example_id_list, excluded_count, excluded_param, ids_digest, short_param, with_id_files,
)
from cnnkit.config.relabelled_examples import (
    RELABELLABLE, relabel_lines, relabels, relabels_csv, relabels_of_file_text,
)
from cnnkit.config.data_loading import load_data, split_warnings, write_relabelled_copy
from cnnkit.config.presets import PRESETS, fetched_when_trained, get_preset, list_presets, unavailable_data
from cnnkit.config.server_paths import ServerPaths
from cnnkit.config.settings import (
    FLIPS, OPTIMIZERS, PREFILTERS, SCHEDULES, SETTINGS, TABS, command_line_message, label, problem_counts,
    setting_error, settings_on,
)
from cnnkit.config.settings_listing import setting_rows
from cnnkit.config.train_config import (
    TrainConfig, changed_settings, describe_run, describe_tricks, field_names, find_problems, is_optional,
    assignments_from_text, parse_assignments, settings_from_text, significant, split_list, value_text,
)

__all__ = [
    "FLIPS", "OPTIMIZERS", "PREFILTERS", "PRESETS", "RELABELLABLE", "SCHEDULES", "SETTINGS", "TABS", "ServerPaths", "TrainConfig",
    "assignments_from_text", "changed_settings", "command_line_message", "data_loading", "describe_run",
    "describe_tricks", "example_id_list", "excluded_count", "excluded_param", "fetched_when_trained", "field_names", "find_problems", "get_preset", "ids_digest", "is_optional", "label", "list_presets",
    "load_data", "parse_assignments", "problem_counts", "relabel_lines", "relabels",
    "relabels_csv", "relabels_of_file_text", "setting_error", "setting_rows", "settings_from_text",
    "settings_on", "short_param", "significant", "split_list", "split_warnings", "unavailable_data", "value_text", "with_id_files",
    "write_relabelled_copy",
]
