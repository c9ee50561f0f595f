"""Errors that reach users: one clear message naming the field, the value and what is allowed; and exit codes.

Exit codes of every ``nksim`` command (README "Exit codes"):

====  ==================  ==========================================================================
code  name                meaning
====  ==================  ==========================================================================
0     ``EXIT_OK``         success
1     ``EXIT_RUNTIME``    runtime failure: the input was valid but the work failed (out of memory,
                          disk full, an internal error)
2     ``EXIT_USAGE``      bad usage: unknown command or option, missing argument, wrong option type
3     ``EXIT_INPUT``      invalid input: a scenario, parameter, data file or output folder nksim refuses
130   ``EXIT_INTERRUPTED`` interrupted (Ctrl-C)
====  ==================  ==========================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERRUPTED = 130

_MAX_SHOWN = 80  # characters of a value shown in a message


def show_value(value: object) -> str:
    """A value as a message shows it: numpy scalars and arrays as plain Python, long values cut short."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        value = item()
    elif callable(getattr(value, "tolist", None)):
        value = value.tolist()  # type: ignore[union-attr]
    if isinstance(value, (list, tuple)):
        value = [v.item() if callable(getattr(v, "item", None)) and getattr(v, "shape", None) == () else v
                 for v in value]
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{k!r}: ..." for k in list(value)[:6]) + (", ..." if len(value) > 6 else "") + "}"
    else:
        text = repr(value)
    if len(text) <= _MAX_SHOWN:
        return text
    if isinstance(value, str):  # keep both ends: a file path keeps its file name
        half = (_MAX_SHOWN - 9) // 2
        return repr(value[:half] + " ... " + value[-half:])
    return text[: _MAX_SHOWN - 4] + " ..."


class NksimError(Exception):
    """Base class of every error nksim reports to a user (the CLI prints it without a traceback)."""

    exit_code = EXIT_RUNTIME


class InputError(NksimError, ValueError):
    """Bad user input: a scenario field, a parameter name, an override or a data file."""

    exit_code = EXIT_INPUT

    def __init__(self, field: str, value: object, allowed: str, where: str | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{field} = {show_value(value)} is not allowed; expected {allowed}")


class InputErrors(InputError):
    """Several problems with one input, all reported at once (one line each); ``problems`` holds them."""

    def __init__(self, problems: list[InputError], where: str | None = None) -> None:
        first = problems[0]
        super().__init__(first.field, first.value, first.allowed, where)
        self.problems = problems
        lines = [f"{p.field} = {show_value(p.value)} is not allowed; expected {p.allowed}" for p in problems]
        head = f"{where}: " if where else ""
        if len(problems) == 1:
            self.args = (head + lines[0],)
        else:
            self.args = (f"{head}{len(problems)} problems\n" + "\n".join("  " + line for line in lines),)


def did_you_mean(name: object, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
