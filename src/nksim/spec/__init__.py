"""Scenario language: pydantic v2 models (frozen, extra fields forbidden), YAML I/O and JSON Schema."""
