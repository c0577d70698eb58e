"""The policy commands: packs, packs show, check-policy, and sclab run with a pack."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import yaml
from tests.conftest import run_cli
from tests.test_scenario_errors import assert_one_line_error


def test_packs_lists_the_six() -> None:
    proc = run_cli("packs")
    assert proc.returncode == 0
    for name in ("sesame", "rongcheng", "nanjing", "court-defaulters", "corporate", "composite"):
        assert name in proc.stdout


def test_packs_show_prints_yaml_that_validates(tmp_path: Path) -> None:
    proc = run_cli("packs", "show", "rongcheng")
    assert proc.returncode == 0
    doc = yaml.safe_load(proc.stdout)
    assert doc["id"] == "rongcheng"
    edited = tmp_path / "my-rongcheng.yaml"
    edited.write_text(proc.stdout.replace("id: rongcheng", "id: my-rongcheng", 1))
    check = run_cli("check-policy", edited)
    assert check.returncode == 0 and "valid" in check.stdout


def test_unknown_pack_and_bad_policy_file(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("packs", "show", "atlantis"), "atlantis", "sesame")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: t\nrules:\n  - id: r\n    when: {counter: nope, above: 1}\n"
                   "    effects: [{sanction: {kind: notice, domain: sms}}]\n")  # fmt: skip
    line = assert_one_line_error(run_cli("check-policy", bad), str(bad), "nope")
    assert f"{bad}:5:" in line
    out = tmp_path / "out"
    assert_one_line_error(run_cli("run", bad, "--population", "500", "--out", out), "nope")
    assert not out.exists()


def test_run_a_pack_on_the_nanjing_world(tmp_path: Path) -> None:
    out = tmp_path / "rc"
    proc = run_cli("run", "rongcheng", "--population", "3000", "--days", "30", "--out", out)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["name"] == "rongcheng"
    assert "policies:policy:rongcheng" in manifest["components"]
    con = duckdb.connect(str(out / "run.duckdb"), read_only=True)
    try:
        systems = {r[0] for r in con.execute("SELECT DISTINCT system FROM final_scores").fetchall()}
        assert systems == {"rongcheng"}
        # every score change names its rule and its event
        assert (
            con.execute(
                "SELECT count(*) FROM score_changes WHERE rule_id IS NULL OR event_id IS NULL"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()


def test_help_texts_survive_rich_markup() -> None:
    """Typer renders help through Rich, which drops anything looking like a markup tag
    (``[runs/NAME]`` vanished from ``sclab run --help``): every help text must render as
    written."""
    import typer
    from rich.text import Text

    from sclab.cli import app

    def walk(command):  # type: ignore[no-untyped-def]  # a Click command (vendored by Typer)
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)

    texts = [
        text
        for command in walk(typer.main.get_command(app))
        for text in [command.help, *(getattr(p, "help", None) for p in command.params)]
        if text
    ]
    assert len(texts) > 20
    for text in texts:
        assert Text.from_markup(text).plain == text, text
    shown = run_cli("run", "--help").stdout
    assert "runs/NAME" in shown


def _help_pages(columns: int, *commands: tuple[str, ...]) -> list[str]:
    """``sclab ... --help`` of each command at ``columns`` wide, in this process (Typer
    makes a console for each help page, which reads the width from COLUMNS)."""
    from typer.testing import CliRunner

    from sclab.cli import app

    runner = CliRunner()
    pages = []
    for args in commands:
        result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": str(columns)})
        assert result.exit_code == 0, result.output
        pages.append(result.output)
    return pages


def test_the_commands_list_gives_each_summary_as_running_text() -> None:
    """``sclab --help`` lists every command with its docstring's first paragraph, the
    lines joined and wrapped to the terminal (not the docstring's own line breaks)."""
    import inspect

    from sclab.cli import app, packs_app

    shown = "".join(_help_pages(1000, (), ("packs",)))
    commands = [*app.registered_commands, *packs_app.registered_commands]
    assert len(commands) >= 10
    for info in commands:
        assert info.callback is not None
        first = inspect.cleandoc(info.callback.__doc__ or "").split("\n\n")[0]
        summary = " ".join(first.split())
        assert info.short_help == summary
        assert summary in shown  # one line at a width that fits it


def test_no_help_page_cuts_an_option_name_at_80_columns() -> None:
    """Every command's ``--help`` at 80 columns shows its options whole (flags have one
    name each, so no '--skip-memory-ch…' beside an unused '--no-skip-memor…')."""
    from sclab.cli import app, packs_app

    commands = [
        (info.name or getattr(info.callback, "__name__", "").replace("_", "-"),)
        for info in app.registered_commands
    ]
    commands += [("packs", info.name or "") for info in packs_app.registered_commands]
    assert len(commands) >= 12
    pages = _help_pages(80, *commands)
    for page in pages:
        assert "…" not in page, page
    assert "--skip-memory-check" in pages[0]  # (run's page)
