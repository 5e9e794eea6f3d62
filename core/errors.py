"""User-facing errors: one line, a non-zero exit code, never a traceback."""


class CreatorRankError(Exception):
    """An error caused by input or configuration that the user can fix.

    The CLI prints ``str(error)`` on one line and exits with ``exit_code``.
    """

    exit_code = 2


class InputError(CreatorRankError):
    """A missing file, missing column or unreadable value in the raw tables."""


class ConfigError(CreatorRankError):
    """An invalid configuration (unknown feature, bad value)."""


class ModelError(CreatorRankError):
    """A model that cannot be found or does not fit the feature set."""
