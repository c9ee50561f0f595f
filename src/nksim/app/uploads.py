"""The app's upload boundary: files from the browser are bytes, never paths.

Uploads are limited to ``MAX_UPLOAD_BYTES``, must be UTF-8 text (``nksim.yaml_load.decode_text``), and are parsed
only as YAML through the project's strict loader (then validated as a scenario, as ``nksim validate`` does) or as
the trial CSV through ``nksim.trial.advisor.read_trial_data``. A file name from the browser only labels messages.
"""

from __future__ import annotations

from pathlib import Path, PurePath

import yaml

from nksim.errors import InputError
from nksim.spec.scenario import Scenario
from nksim.yaml_load import decode_text, describe_error, safe_load

MAX_UPLOAD_BYTES = 1_000_000  # a scenario is a few kB, a trial CSV a few hundred bytes


def label(filename: str | None, default: str) -> str:
    """The browser's file name, reduced to its last component (for messages only)."""
    name = PurePath(str(filename or "")).name.replace("\\", "/").rsplit("/", 1)[-1]
    return name[:80] or default


def scenario_from_text(text: str, where: str) -> Scenario:
    """A scenario from YAML text, checked like a file by ``nksim validate`` (every problem listed). A
    ``calibration`` file reference is refused: the app reads no server file a document names."""
    from nksim.spec.io import scenario_from_dict

    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError("yaml", where, f"valid YAML ({describe_error(exc)})") from None
    if isinstance(data, dict) and data.get("calibration") is not None:
        raise InputError("calibration", data["calibration"], "no calibration file in the app (apply it with the "
                         "CLI: `nksim show FILE` prints the calibrated scenario)", where)
    return scenario_from_dict(data, where=where)


def scenario_from_upload(data: bytes, filename: str | None) -> Scenario:
    """An uploaded scenario YAML file (bytes) as a validated scenario."""
    where = label(filename, "upload.yaml")
    return scenario_from_text(decode_text(data, "upload", where, "YAML", MAX_UPLOAD_BYTES), where)


def csv_text_from_upload(data: bytes, filename: str | None) -> str:
    """An uploaded CSV file's text (size, binary and UTF-8 checked)."""
    return decode_text(data, "upload", label(filename, "data.csv"), "CSV", MAX_UPLOAD_BYTES)


def trial_data_from_text(text: str, n_doses: int, folder: Path):
    """The advisor's data from CSV text, read by the CLI's own reader (``read_trial_data``): the text is written
    to ``folder/trial_data.csv`` (a name the app chooses) and read from there, so both give the same messages."""
    from nksim.trial.advisor import read_trial_data

    if len(text.encode("utf-8")) > MAX_UPLOAD_BYTES:
        raise InputError("data", f"{len(text)} characters", f"at most {MAX_UPLOAD_BYTES // 1000} kB of CSV")
    path = Path(folder) / "trial_data.csv"
    path.write_text(text, encoding="utf-8")
    return read_trial_data(path, n_doses)
