"""Every command is documented in the README and has help text (sqlite-utils' docs test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from awsideman.cli.app import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(group: Any, prefix: str = "awsideman") -> list[tuple[str, Any]]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):  # a group (typer may bring its own click classes)
            found += _commands(command, path)
        else:
            found.append((path, command))
    return found


COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


def test_there_are_commands_to_check():
    assert len(COMMANDS) >= 10


def test_every_command_is_in_the_readme_and_has_help():
    for path, command in COMMANDS:
        assert path in README, f"{path} is not documented in README.md"
        assert (command.help or "").strip(), f"{path} has no help text"


def test_every_option_is_in_the_readme():
    for path, command in COMMANDS:
        for param in command.params:
            shared = param.name in ("help", "output", "quiet", "no_color")
            if getattr(param, "param_type_name", "") == "option" and not shared:
                assert any(opt in README for opt in param.opts), f"{path} {param.opts[0]} is not in README.md"


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    setup = README.split("```bash", 1)[1].split("```", 1)[0]  # the set-up block's two commands
    test_command = setup.strip().splitlines()[1]
    assert test_command.startswith("python -m pytest")
    assert f"\n{test_command}\n" in ci
