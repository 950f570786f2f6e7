"""The one error type for problems a person can fix (bad input, bad config)."""


class InputError(ValueError):
    """A user-facing problem. The message is written for a person and names the culprit.

    `field` names the config setting at fault, when there is one, so a form can show the
    message next to that control.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
