"""The one error type for problems a person can fix (bad input, bad config), and how any error reads
in one line."""


class InputError(ValueError):
    """A user-facing problem. The message is written for a person and names the culprit.

    `field` names the config setting at fault, when there is one, so a form can show the
    message next to that control.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class SettingError(InputError):
    """An InputError about the value of one setting (`field`), raised below the config layer (by
    the datasets), where the setting's on-screen label isn't known: the message is the detail
    alone, and the config layer (`cnnkit.config.data_loading`) puts the label in front."""

    def __init__(self, field: str, detail: str):
        super().__init__(detail, field=field)


def one_line(error: BaseException, limit: int = 200) -> str:
    """An error's message as one short line: SQLAlchemy's own error without its SQL, MLflow's
    without the lines after the first."""
    error = getattr(error, "orig", None) or error  # SQLAlchemy wraps the database's error
    lines = str(getattr(error, "message", None) or error).strip().splitlines()
    line = " ".join(lines[0].split()) if lines else type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"
