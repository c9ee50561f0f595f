"""Output folders: names made safe for paths (kept under their root) and ``--out`` folders checked before use."""

from __future__ import annotations

import os
import re
from pathlib import Path

from nksim.errors import InputError

DEFAULT_ROOT = Path("runs")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_SLUG = 80


def slugify(name: object) -> str:
    """``name`` as one safe path component: letters, digits, ``. _ + -`` (anything else becomes ``-``), no leading
    dots or dashes, at most 80 characters; "unnamed" when nothing is left (``../..`` -> "unnamed")."""
    text = _UNSAFE.sub("-", str(name)).strip(".-")
    text = re.sub(r"-{2,}", "-", text)[:MAX_SLUG].rstrip(".-")
    return text or "unnamed"


def default_out(*parts: object, root: Path = DEFAULT_ROOT) -> Path:
    """``root / slug`` where the slug joins ``parts`` (e.g. a scenario name and ``seed7``) with ``-``; always a
    direct child of ``root``, whatever the names hold."""
    folder = root / slugify("-".join(str(p) for p in parts))
    if folder.resolve().parent != root.resolve():  # cannot happen with a slug; kept as the containment check
        raise InputError("name", str(parts[0]) if parts else "", f"a name that gives a folder under {root}/")
    return folder


def prepare_out(path: Path, option: str = "--out") -> Path:
    """Create ``path`` as an output folder, or ``InputError`` naming ``option``: an existing file, a path below a
    file, a folder that cannot be created or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(option, str(path), "a folder (this is an existing file)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(option, str(path), f"a folder path ({parent} is a file, not a folder)")
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(option, str(path), f"a folder that can be created ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(option, str(path), "a folder this user can write to")
    return path


#: figure formats an ``--out`` image may name (matplotlib's common writers)
FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".eps")


def prepare_file(path: Path, option: str = "--out", suffixes: tuple[str, ...] = FIGURE_SUFFIXES) -> Path:
    """Check an output file ``path`` before any work: one of ``suffixes``, not a folder, in a folder that exists or
    can be created (``prepare_out``); else ``InputError`` naming ``option``."""
    path = Path(path)
    if path.is_dir():
        raise InputError(option, str(path), "a file name (this is an existing folder)")
    if path.suffix.lower() not in suffixes:
        raise InputError(option, str(path), f"a file name ending in {', '.join(suffixes)}")
    prepare_out(path.parent, option)
    return path
