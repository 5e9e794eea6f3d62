"""User-facing errors and the one exit-code contract of every command.

Exit codes (docs/RELIABILITY.md):

====  =====================================================================================
0     success
1     ``validate`` only: the data was read, and some rows were rejected (see ``--rejects``)
2     bad input, usage or configuration: one line on stderr naming the file, row, column or
      option; nothing was written
3     refused by a quality gate (``promote``: the challenger does not beat the baselines or
      the champion): the reason on one line; the registry is unchanged
70    internal error (a bug): one line on stderr with the path of a log holding the traceback
      (``--debug`` prints it)
130   interrupted (Ctrl-C)
====  =====================================================================================
"""

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_INPUT = 2
EXIT_REFUSED = 3
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h
EXIT_INTERRUPTED = 130


class CreatorRankError(Exception):
    """An error caused by input or configuration that the user can fix.

    The CLI prints ``str(error)`` on one line and exits with ``exit_code``.
    """

    exit_code = EXIT_INPUT


class InputError(CreatorRankError):
    """A missing file, missing column or unreadable value in the raw tables."""


class ConfigError(CreatorRankError):
    """An invalid configuration (unknown feature, bad value)."""


class ModelError(CreatorRankError):
    """A model that cannot be found, is damaged or does not fit the feature set."""


class RefusedError(CreatorRankError):
    """A quality gate refused the action (for example promoting a model that loses to a baseline)."""

    exit_code = EXIT_REFUSED
