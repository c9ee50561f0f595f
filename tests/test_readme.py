"""The README's "Use it" commands run as written (issue 17: a fresh clone, README followed literally).

Each `nksim ...` line of the section's shell block runs in order, in a scratch folder (the repository's `src/` is
linked there, so data paths resolve as in a clone), with cohort sizes shrunk (`-n 500` -> 3 patients, ...). The few
lines that stay slow even when shrunk (ABC-SMC, cross-validation, CRS fit, population fit) are parsed by the real
command (every option and argument checked, files named must exist) but not run; test_cli_json and their own tests
run them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nksim.cli import app

ROOT = Path(__file__).resolve().parents[1]
SHRINK = {"--patients": "3", "-n": "3", "--trials": "4", "--lots": "5", "--n": "2", "--days": "0.1",
          "--size": "30x30"}
PARSE_ONLY = ("calibration --fit-crs", "calibration --abc", "calibration --cross-validate", "fit ", "sensitivity ")


def use_it_lines(readme: str) -> list[str]:
    """The shell lines of the README's "Use it" section, comments removed."""
    section = readme.split("\n## Use it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert blocks, "no shell block under 'Use it'"
    lines = []
    for block in blocks:
        for line in block.splitlines():
            code = re.sub(r"\s+#\s.*$", "", line).strip()
            if code:
                lines.append(code)
    return lines


def shrink(args: list[str]) -> list[str]:
    out = list(args)
    for i, a in enumerate(out[:-1]):
        if a in SHRINK:
            out[i + 1] = SHRINK[a]
    return out


def parse_only(args: list[str]) -> None:
    """Resolve the command and let it parse ``args`` (options, types, required arguments) without running it."""
    cmd, rest, name = typer.main.get_command(app), list(args), "nksim"
    ctx = cmd.make_context(name, [], resilient_parsing=True)
    while hasattr(cmd, "list_commands") and cmd.list_commands(ctx) and rest and not rest[0].startswith("-"):
        name, rest = rest[0], rest[1:]
        cmd = cmd.get_command(ctx, name)
        assert cmd is not None, f"no command {name!r}"
        ctx = cmd.make_context(name, [], parent=ctx, resilient_parsing=True)
    cmd.make_context(name, rest, parent=ctx.parent)  # parses every option and argument (usage errors raise)
    for a in args:
        if a.startswith("src/"):  # data files shipped in the repository
            assert Path(a).exists(), a


def test_readme_says_how_to_reach_the_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = use_it_lines(readme)
    assert lines[0] == "source .venv/bin/activate" and ".venv/bin/nksim" in readme
    assert all(line.startswith("nksim") for line in lines[1:])


def test_every_use_it_command_runs(tmp_path, monkeypatch):
    (tmp_path / "src").symlink_to(ROOT / "src")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    lines = use_it_lines((ROOT / "README.md").read_text(encoding="utf-8"))[1:]
    ran = 0
    for line in lines:
        args = shlex.split(line)[1:]
        target = None
        if ">" in args:
            k = args.index(">")
            args, target = args[:k], args[k + 1]
        args = shrink(args)
        if line.removeprefix("nksim ").startswith(PARSE_ONLY):
            parse_only(args)
            continue
        r = runner.invoke(app, args)
        assert r.exit_code == 0, f"{line}\n{r.output[-1500:]}\n{r.exception!r}"
        if target:
            Path(target).write_text(r.stdout, encoding="utf-8")
        ran += 1
    assert ran >= 20
    assert (tmp_path / "runs" / "gpc3-doses" / "comparison.csv").exists()
    assert (tmp_path / "gpc3.csv").exists() and (tmp_path / "gpc3.xml").exists()


@pytest.mark.parametrize("bad", [["run", "hcc-gpc3-car-nk-il15", "--no-such-option"], ["trial", "oc", "--trials", "x"],
                                 ["trial", "no-such-command"], ["export", "sbml", "hcc-gpc3-car-nk-il15"]])
def test_parse_only_catches_usage_errors(bad):
    with pytest.raises(Exception):
        parse_only(bad)
