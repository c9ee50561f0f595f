"""Base class of every scenario object: frozen, extra fields forbidden."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable pydantic model that rejects unknown (misspelt) fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
