"""YAML reading through libyaml when PyYAML has it (7x faster on the parameter registry; the same objects)."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with the C loader when available; errors are the same ``yaml.YAMLError`` types."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
