"""What a new user meets first: global options anywhere, JSON and NO_COLOR for every outcome, clean
help, and advice that names the configured profile and only commands that exist."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from awsideman.cli.app import build_command, hoist_global_options

PACKAGE = Path(__file__).resolve().parents[2] / "awsideman"


@pytest.mark.parametrize("args, expected", [
    (["backup", "create", "--region", "X"], ["--region", "X", "backup", "create"]),
    (["backup", "list", "--profile=p", "-o", "json", "--debug"], ["--profile=p", "--debug", "backup", "list", "-o",
                                                                    "json"]),
    (["--region", "a", "backup", "create", "--config", "c.yaml"], ["--region", "a", "--config", "c.yaml", "backup",
                                                                     "create"]),
    (["-o", "json", "restore", "bk-1", "--profile", "p", "--yes"], ["-o", "json", "--profile", "p", "restore", "bk-1",
                                                                     "--yes"]),
    (["sandbox", "run", "--", "awsideman", "backup", "create", "--region", "X"],
     ["sandbox", "run", "--", "awsideman", "backup", "create", "--region", "X"]),
])
def test_global_options_after_the_subcommand_move_before_it(args, expected):
    assert hoist_global_options(args) == expected


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in getattr(group, "commands", {}).items():
        found += _commands(command, (*path, name))
    return found


COMMAND = build_command()
PATHS = _commands(COMMAND)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "awsideman")
def test_help_metavars_are_clean(capsys, path):
    COMMAND.main(args=[*path, "--help"], prog_name="awsideman", standalone_mode=False)
    out = capsys.readouterr().out
    assert "Usage: awsideman" in out
    for noise in ("<bool>", "<str>", "<int>", "<float>", "<list", "{"):
        assert noise not in out, f"{' '.join(path)} --help shows {noise}"


def _node(path: tuple[str, ...]) -> Any:
    command = COMMAND
    for name in path:
        command = command.commands[name]
    return command


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def _strings() -> list[str]:
    """Every string literal in the package; an f-string's holes become ``{}``."""
    found = []
    for file in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                found.append("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
    return found


# A command line in advice: backticked, at the start, or after "Then resume: " / "e.g. " and the like.
_MENTION = re.compile(r"(?:(?<=`)|^|(?<=: )|(?<=e\.g\. ))awsideman((?: [a-z][a-z-]*)+)((?: [^`;,)]*)?)")


def test_advice_names_only_commands_and_options_that_exist():
    mentions = 0
    root_options = _options(COMMAND)
    for text in _strings():
        for words, tail in _MENTION.findall(text):
            path = tuple(words.split())
            if path[0] not in COMMAND.commands and not re.match(r" *(?:--|\{|[A-Z_]{2,}\b|bk-|op-)", tail):
                continue  # prose ("Transient: awsideman retries it"), not a command line
            while path and path not in PATHS:  # trailing words are arguments ("rollback OP_ID")
                path = path[:-1]
            # A group names a command only when nothing follows it (`awsideman sandbox`: the family).
            named_group = tuple(words.split()) == path and not tail.strip()
            exists = bool(path) and (named_group or not getattr(_node(path), "commands", None))
            assert exists, f"advice names a command that does not exist: awsideman{words} (in {text!r})"
            mentions += 1
            options = _options(_node(path)) | root_options
            for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", tail):
                assert option in options, f"awsideman {' '.join(path)} has no {option} (in {text!r})"
    assert mentions >= 15


def test_advice_uses_the_configured_profile_and_no_placeholder():
    from botocore.exceptions import ClientError

    from awsideman.services.error_analysis import error_analyzer  # botocore's facts registered, as the cli does

    expired = ClientError({"Error": {"Code": "ExpiredTokenException", "Message": "expired"}}, "ListUsers")
    with_profile = " ".join(error_analyzer(profile="ops").analyze(expired).remediation)
    assert "aws sso login --profile ops" in with_profile
    without = " ".join(error_analyzer(profile="").analyze(expired).remediation)
    assert "PROFILE" not in without and "`aws sso login`" in without


# -- through the installed executable -----------------------------------------------------------
def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS", "AWSIDEMAN", "NO_COLOR"))}
    base.update(AWSIDEMAN_HOME=str(tmp_path / "home"), COLUMNS="80", **env)
    return subprocess.run(["awsideman", *args], capture_output=True, text=True, env=base, timeout=60)


@pytest.mark.e2e
def test_errors_obey_awsideman_output_and_no_color_with_options_after_the_subcommand(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("retention_days: .nan\n")
    as_json = _run(tmp_path, "backup", "list", "--region", "eu-west-1", "--config", str(config),
                   AWSIDEMAN_OUTPUT="json", FORCE_COLOR="1")
    assert as_json.returncode == 2, as_json.stderr
    error = json.loads(as_json.stdout)["errors"][0]
    assert error["category"] == "configuration" and "retention_days" in error["message"]

    as_text = _run(tmp_path, "backup", "list", "--config", str(config), NO_COLOR="1", FORCE_COLOR="1")
    assert as_text.returncode == 2 and "retention_days" in as_text.stderr
    assert "\x1b" not in as_text.stdout + as_text.stderr


@pytest.mark.e2e
def test_analyze_error_advice_names_the_configured_profile(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("profile: ops\n")
    result = _run(tmp_path, "analyze-error", "--code", "ExpiredTokenException", "-o", "json",
                  AWSIDEMAN_CONFIG=str(config))
    assert result.returncode == 0, result.stderr
    advice = " ".join(json.loads(result.stdout)["remediation"])
    assert "--profile ops" in advice and "PROFILE" not in advice
