"""The one module that prints: secrets redacted in text and JSON, control characters neutralised,
no escape codes under NO_COLOR, ids never cut at any terminal width."""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import threading
from types import SimpleNamespace

import pytest

import awsideman.render
from awsideman.core.cancel import StopSignal, install_handlers
from awsideman.render import Renderer, neutralize

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOSTILE = "nightly\x1b[2J\x1b]0;pwned\x07 \rover\u202eeman\x9b31m"
BACKUP_ID = "bk-20261128T174408Z-b09f83"
COLUMNS = ["backup id", "created", "status", "users", "groups", "permission sets", "assignments", "description"]


def _row(number: int, description: str = "") -> list[object]:
    return [BACKUP_ID[:-1] + str(number), "2026-11-28T17:44:08Z", "complete", 12, 4, 7, 30, description]


def test_neutralize_shows_controls_as_escapes_and_keeps_lines():
    assert neutralize(HOSTILE) == "nightly\\x1b[2J\\x1b]0;pwned\\x07 \\rover\\u202eeman\\x9b31m"
    assert neutralize("a\tb\nc") == "a\tb\nc"


@pytest.mark.parametrize("method", ["line", "table", "fields", "warn", "error"])
def test_stored_text_never_reaches_the_terminal_raw(capsys, method):
    render = Renderer()
    if method == "table":
        render.table("t", COLUMNS, [_row(1, HOSTILE)])
    elif method == "fields":
        render.fields("t", {"description": HOSTILE})
    else:
        getattr(render, method)(HOSTILE)
    out, err = capsys.readouterr()
    for raw in ("\x1b", "\x07", "\r", "\u202e", "\x9b"):
        assert raw not in out + err
    assert "\\x1b[2J" in out + err  # shown, not acted on


def test_progress_at_a_terminal_shows_stored_text_escaped():
    import io

    from rich.console import Console

    render = Renderer()
    stream = io.StringIO()
    render.err = Console(file=stream, force_terminal=True, highlight=False)
    render.progress(HOSTILE)
    render.end_progress()
    shown = stream.getvalue()
    assert "\\x1b[2J" in shown and "\x1b[2J" not in shown and "\u202e" not in shown


def test_json_documents_are_sanitised_and_escape_controls(capsys):
    Renderer(output="json").document({"message": f"aws_secret_access_key={SECRET}", "SessionToken": "abc",
                                      "description": HOSTILE, "id": BACKUP_ID})
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert SECRET not in out and doc["SessionToken"] == "***REDACTED***"
    assert "\x1b" not in out and doc["description"] == HOSTILE  # escaped by JSON, intact for machines
    assert doc["id"] == BACKUP_ID


def test_streamed_outputs_are_sanitised_like_the_whole_ones(capsys):
    """`document_stream`, `json_lines`, `csv` and `stream` write as items come, with the same
    redaction and escaping as `document` and `line`."""
    items = [{"message": f"aws_secret_access_key={SECRET}", "SessionToken": "abc", "description": HOSTILE}] * 3
    render = Renderer(output="json")
    render.document_stream({"id": BACKUP_ID, "nested": {"a": [1, 2]}}, "rows", iter(items), lambda: {"count": 3})
    out = capsys.readouterr().out
    assert json.loads(out) == {"id": BACKUP_ID, "nested": {"a": [1, 2]}, "count": 3, "rows": [
        {"message": "aws_secret_access_key=***REDACTED***", "SessionToken": "***REDACTED***",
         "description": HOSTILE}] * 3}
    render.document_stream({}, "rows", iter([]))
    assert json.loads(capsys.readouterr().out) == {"rows": []}
    render.json_lines(iter(items))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["SessionToken"] == "***REDACTED***" for line in lines)
    Renderer().stream(iter([f"| {HOSTILE} |", f"key {SECRET}"]))
    Renderer().csv(["a"], iter([[HOSTILE], [SECRET]]))
    out = capsys.readouterr().out
    assert SECRET not in out and "\x1b" not in out and "\\x1b[2J" in out


def test_a_long_table_is_plain_aligned_columns_with_nothing_cut(capsys):
    rows = [_row(n % 10, HOSTILE if n == 7 else "") for n in range(awsideman.render.PLAIN_TABLE_ROWS + 1)]
    Renderer().table("Backups", COLUMNS, rows)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Backups" and lines[1].startswith("backup id") and set(lines[2]) <= {"-", " "}
    assert len(lines) == 3 + len(rows) and all(BACKUP_ID[:-1] in line for line in lines[3:])
    assert "\x1b" not in "".join(lines) and "\\x1b[2J" in lines[3 + 7]


def test_markdown_tables_escape_what_would_break_them(capsys):
    Renderer().markdown_table(["a", "b"], iter([["x|y", "`code`"], [HOSTILE, None]]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["| a | b |", "|---|---|", "| x\\|y | 'code' |"]
    assert "\x1b" not in lines[3] and lines[3].endswith(" |  |")


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color_means_no_escape_codes_at_all(capsys, monkeypatch, no_color):
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a real terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    render = Renderer(no_color=no_color)
    render.error("it failed", ["do this"])
    render.line("done", style="bold green")
    render.table("t", COLUMNS, [_row(1)])
    out, err = capsys.readouterr()
    assert ("\x1b[" in out + err) is not no_color


@pytest.mark.parametrize("width", [40, 80, 130, 200])
def test_ids_are_never_cut_at_any_width(capsys, width):
    render = Renderer()
    render.out.width = width
    render.table("Backups", COLUMNS, [_row(1, "a description long enough to need wrapping " * 2), _row(2)])
    out = capsys.readouterr().out
    assert BACKUP_ID[:-1] + "1" in out and BACKUP_ID[:-1] + "2" in out
    assert "2026-11-28T17:44:08Z" in out and "…" not in out


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_ids_inside_free_text_cells_are_never_cut(capsys, width):
    """A timeline event is a sentence that contains an id or an address: it wraps at spaces only."""
    address = "assignment:Network-000:USER:alan.perlman.0004:123456789012"
    operation = "op-20261203T125648Z-2e11ae"
    render = Renderer()
    render.out.width = width
    render.table("Timeline", ["at", "event"], [
        ["2026-12-03T12:56:49Z", f"FAILED {address}: AsyncRequestFailed"],
        ["2026-12-03T12:56:50Z", f"restore ended: rolled back by {operation} after the failure of one change"]])
    out = capsys.readouterr().out
    assert address in out and operation in out and "2026-12-03T12:56:50Z" in out
    assert all(len(line) <= width for line in out.splitlines() if line[:1] in "┏┃┡│└")


def test_columns_is_honoured_when_piped(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    assert Renderer().out.width == 60
    monkeypatch.delenv("COLUMNS")
    assert Renderer().out.width >= 200  # piped (pytest captures stdout): wide enough for any id


@pytest.fixture
def stdin_pipe(monkeypatch):
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "r")
    monkeypatch.setattr(sys, "stdin", reader)
    yield write_fd
    reader.close()
    os.close(write_fd)


@pytest.mark.parametrize(("typed", "agreed"), [(b"y\n", True), (b"YES\n", True), (b"n\n", False), (b"\n", False)])
def test_the_prompt_reads_one_answer(capsys, stdin_pipe, typed, agreed):
    os.write(stdin_pipe, typed)
    assert Renderer().ask("Apply 3 change(s)?") is agreed
    assert capsys.readouterr().out == "Apply 3 change(s)? [y/N]: "


def test_end_of_input_at_the_prompt_is_a_no(capsys, stdin_pipe):
    os.close(os.dup(stdin_pipe))
    os.dup2(os.open(os.devnull, os.O_RDONLY), sys.stdin.fileno())  # stdin at its end
    assert Renderer().ask("Apply?") is False
    assert capsys.readouterr().out == "Apply? [y/N]: \n"


def test_a_ctrl_c_the_kernel_hands_to_another_thread_still_ends_the_prompt(capsys, stdin_pipe, monkeypatch):
    """The kernel may deliver SIGINT to any thread; Python runs the handler only in the main one,
    which a plain read of stdin would keep blocked (the hang seen on loaded CI machines)."""
    waiting = threading.Event()
    real_select = select.select

    def select_and_tell(*args):
        waiting.set()
        return real_select(*args)

    def ctrl_c_in_this_thread():
        waiting.wait(10)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        if not stopped.wait(10):  # a prompt that missed it: answer, so the test fails, not hangs
            missed.set()
            os.write(stdin_pipe, b"n\n")

    monkeypatch.setattr(awsideman.render, "select", SimpleNamespace(select=select_and_tell))
    stop, stopped, missed = StopSignal(), threading.Event(), threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    install_handlers(stop)
    other = threading.Thread(target=ctrl_c_in_this_thread)
    try:
        other.start()
        with stop.disarmed():
            agreed = Renderer().ask("Apply?")
        stopped.set()
        other.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not missed.is_set(), "the prompt went on waiting after the Ctrl-C"
    assert agreed is False and stop.signum == signal.SIGINT
    assert capsys.readouterr().out == "Apply? [y/N]: \n"
