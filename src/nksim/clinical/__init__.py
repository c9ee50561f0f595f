"""nksim.clinical: clinical readouts.

TEAM RULES: read /work/main/CONTRIBUTING.md first (commit only your own paths; deadline 21:45 UTC; venv /work/main/.venv).
"""
