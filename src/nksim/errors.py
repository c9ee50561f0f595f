"""Errors that reach users: one clear message naming the field, the value and what is allowed."""

from __future__ import annotations


class NksimError(Exception):
    """Base class of every error nksim reports to a user (the CLI prints it without a traceback)."""


class InputError(NksimError, ValueError):
    """Bad user input: a scenario field, a parameter name, an override or a data file."""

    def __init__(self, field: str, value: object, allowed: str, where: str | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{field} = {value!r} is not allowed; expected {allowed}")
