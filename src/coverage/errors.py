"""The project's one exception tree, translated at the edges.

    PriorAuthError                  base: the CLI prints it in one line and exits 2 (its ``exit_status``)
    ├── InvalidInput                bad user input; carries one "path: problem" line per problem
    │   ├── InvalidCase             a case document that breaks the case format
    │   └── InvalidPolicy           a policy file that breaks the policy schema
    ├── NotFound                    an id that names nothing stored
    ├── IllegalTransition           a lifecycle move the state machine forbids
    ├── StaleVersion                a transition based on a version someone else already changed
    ├── ConfigurationError          settings, clinic file or templates that cannot be used
    │   └── Unreachable             a server or database that does not answer now (a temporary failure)
    └── StorageError                a write or read the database refused (named by error type only)

Messages never carry PHI (names, birth dates, member ids): they name fields and ids.
"""

from __future__ import annotations

from collections.abc import Sequence


class PriorAuthError(Exception):
    """Base of every error the project raises on purpose."""

    #: The command line's exit status for it: 2, a problem to fix before trying again.
    exit_status = 2

    def lines(self) -> list[str]:
        """One line per problem, for the CLI."""
        return [str(self)]


class InvalidInput(PriorAuthError):
    """Input that breaks a rule; each problem names the field by its path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def lines(self) -> list[str]:
        return list(self.problems)


class InvalidCase(InvalidInput):
    """A case document that breaks the case format."""


class InvalidPolicy(InvalidInput):
    """A policy file that breaks the policy schema."""


class NotFound(PriorAuthError):
    """An id that names nothing stored."""


class IllegalTransition(PriorAuthError):
    """A lifecycle move that the state machine forbids."""


class StaleVersion(PriorAuthError):
    """A change based on a version of a record that someone else changed first."""


class ConfigurationError(PriorAuthError):
    """Settings, a clinic file or templates that cannot be used."""


class Unreachable(ConfigurationError):
    """A Prefect server or records database that does not answer now (refused, timed out, starting up).

    Still exit status 2 for the staff commands; ``priorauth worker`` exits 75 (``EX_TEMPFAIL``) when
    this is its only kind of problem, so its supervisor starts it again after a pause.
    """


class StorageError(PriorAuthError):
    """A database failure other than a lost race; the message names the error type, never its values."""
