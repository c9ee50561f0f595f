"""mkdocs hook: links from the docs to repository files outside docs/ (``../src/...``, ``../benchmarks/...``) are
kept in the Markdown (they work when reading docs/ in the repository) and shown in the site as the file's path,
since the site holds no source files (``mkdocs build --strict`` would refuse them as missing pages)."""

from __future__ import annotations

import re

_OUTSIDE = re.compile(r"\[([^\]]+)\]\(\.\./((?:src|benchmarks|tests|examples)/[^)\s]+)\)")


def on_page_markdown(markdown: str, **_: object) -> str:
    return _OUTSIDE.sub(lambda m: f"{m.group(1)} (`{m.group(2)}`)", markdown)
