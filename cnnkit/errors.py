"""The one error type for problems a person can fix (bad input, bad config)."""


class InputError(ValueError):
    """A user-facing problem. The message is written for a person and names the culprit."""
