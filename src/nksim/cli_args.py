"""Parsing of command-line argument values shared by the CLI modules (errors name the option and the value)."""

from __future__ import annotations

from typing import Optional

from nksim.errors import InputError


def parse_floats(text: Optional[str], field: str, allowed: str) -> Optional[list[float]]:
    """``"0,7,14"`` -> [0.0, 7.0, 14.0]; None stays None; anything else is an error naming ``field``
    and what is ``allowed``."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(field, text, allowed) from None
