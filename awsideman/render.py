"""The only module that prints: Rich output for people, one JSON document for machines.

Everything else returns data; commands hand it here. In JSON mode stdout carries exactly
one document and all progress/diagnostics go to stderr (or nowhere with --quiet).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import select
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from awsideman.core.progress import ENDED, STARTED, PhaseView
from awsideman.core.sanitize import REDACTED, is_sensitive_key, sanitize, sanitize_obj

# Rich is imported when something is first drawn, not with this module: `awsideman --version`
# and the help answer in a fraction of the time Rich takes to import.
if TYPE_CHECKING:
    from rich.console import Console

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and
# isolates that reorder what a reader sees ("Trojan Source"): stored text (a manifest
# description, a user's display name) must not clear the screen, move the cursor or hide text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A table cell that is one token (an id, an ARN, a timestamp) is never cut or wrapped: the
# next command needs it whole. Nor is any word of a free-text cell; a table that cannot fit
# them at the width is printed as records (``column  value`` blocks) instead.
_MAX_KEPT_WIDTH = 100
_MIN_TEXT_WIDTH = 12  # what a free-text column may be squeezed to
PIPED_WIDTH = 240
# Rich lays a table out in ~2 ms a row: a table longer than this (an access review of a big
# instance) is printed as plain aligned columns instead, in a fraction of the time and memory.
PLAIN_TABLE_ROWS = 1000
PLAIN_PROGRESS_EVERY = 5.0  # seconds between plain progress lines (NO_COLOR at a terminal)


def output_width() -> int | None:
    """Columns for stdout: ``COLUMNS`` when set (piped or not); else the terminal's; piped output
    (read by scripts and grep) gets a width at which no id is ever cut."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else PIPED_WIDTH


def neutralize(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``) instead of acting on the terminal."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def raw_line(text: str) -> None:
    """One plain line on stdout, without building a Renderer (the bare ``--version`` answer)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def clean(text: Any) -> str:
    """What every human-facing line goes through: secrets redacted, control characters neutralised."""
    return neutralize(sanitize("" if text is None else str(text)))


# Implementation note: streamed outputs (csv, JSON lines, Markdown rows of `access`) repeat the same
# few thousand names and ids tens of thousands of times, and the sanitiser costs ~15 us a string:
# each distinct string is cleaned once (a bounded cache, so memory stays bounded too).
@functools.lru_cache(maxsize=1 << 16)
def _cleaned(text: str) -> str:
    return neutralize(sanitize(text))


@functools.lru_cache(maxsize=1 << 16)
def _sanitized(text: str) -> str:
    return sanitize(text)


@functools.lru_cache(maxsize=1024)
def _sensitive(key: str) -> bool:
    return is_sensitive_key(key)


def _sanitized_obj(obj: Any) -> Any:
    """``sanitize_obj`` with the cached string sanitiser (JSON values: dicts, lists, scalars)."""
    if isinstance(obj, str):
        return _sanitized(obj)
    if isinstance(obj, Mapping):
        return {(_sanitized(k) if isinstance(k, str) else k): (
            REDACTED if isinstance(k, str) and _sensitive(k) and v not in (None, "") else _sanitized_obj(v))
            for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_sanitized_obj(v) for v in obj]
    return obj


@dataclass
class Renderer:
    """Output settings plus the two consoles (results on stdout, everything else on stderr)."""

    output: str = "text"
    quiet: bool = False
    no_color: bool = False
    debug: bool = False
    _live: Any = field(init=False, default=None)
    _out: Console | None = field(init=False, default=None, repr=False)
    _err: Console | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()  # services report progress from worker threads
        self._plain_shown: dict[str, float] = {}
        self._tasks: dict[str, Any] = {}

    @property
    def out(self) -> Console:
        """The console for results (stdout), built on first use."""
        if self._out is None:
            self._out = self._console(sys.stdout, width=output_width())
        return self._out

    @out.setter
    def out(self, console: Console) -> None:
        self._out = console

    @property
    def err(self) -> Console:
        """The console for everything else (stderr), built on first use."""
        if self._err is None:
            self._err = self._console(sys.stderr)
        return self._err

    @err.setter
    def err(self, console: Console) -> None:
        self._err = console

    def _console(self, file: Any, **options: Any) -> Console:
        from rich.console import Console

        # NO_COLOR / --no-color means no escape codes at all, not only no colours (bold is one too).
        plain: dict[str, Any] = {"no_color": True, "color_system": None} if self.no_color else {}
        return Console(file=file, highlight=False, soft_wrap=True, **options, **plain)

    @property
    def json(self) -> bool:
        return self.output == "json"

    # -- results ---------------------------------------------------------------------------
    def document(self, data: Any) -> None:
        """Print one JSON document on stdout (the machine contract), secrets redacted like text.

        ``json.dumps`` escapes every control character, so stored text cannot act on a terminal here.
        """
        self.end_progress()
        sys.stdout.write(json.dumps(sanitize_obj(data), indent=2, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: str = "", style: str | None = None) -> None:
        """A line of human output on stdout (results, not progress)."""
        self.end_progress()
        self.out.print(clean(text), style=style, markup=False)

    def ask(self, question: str) -> bool:
        """A yes/no question at the terminal; no, end of input and Ctrl-C answer no.

        A Ctrl-C ends the prompt even when the kernel hands the signal to another thread: the
        answer is awaited on stdin and the signal wakeup fd together, since a read of stdin
        alone would stay blocked (Python runs the handler only in the main thread).
        """
        self.end_progress()
        try:  # from the first byte of the prompt on: a Ctrl-C seen at the prompt answers it
            sys.stdout.write(f"{clean(question)} [y/N]: ")
            sys.stdout.flush()
            answer = _read_answer()
        except KeyboardInterrupt:  # the stop signal's handler raised it: the caller reads the signal
            answer = None
        if answer is None:
            sys.stdout.write("\n")
            sys.stdout.flush()
        return (answer or "").strip().lower() in ("y", "yes")

    def csv(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A header and rows as CSV (RFC 4180, ``\\r\\n`` line ends) on stdout; every cell is
        sanitised and its control characters shown as escapes, like any other output."""
        import csv

        self.end_progress()
        writer = csv.writer(sys.stdout)
        writer.writerow(list(columns))
        for row in rows:
            writer.writerow([_cleaned("" if cell is None else str(cell)) for cell in row])
        sys.stdout.flush()

    def json_lines(self, items: Iterable[Any]) -> None:
        """One JSON document per line (JSON lines), written as ``items`` yields them, secrets redacted."""
        self.end_progress()
        write = sys.stdout.write
        for item in items:
            write(json.dumps(_sanitized_obj(item), sort_keys=True, default=str) + "\n")
        sys.stdout.flush()

    def document_stream(self, head: Mapping[str, Any], name: str, items: Iterable[Any],
                        tail: Callable[[], Mapping[str, Any]] | None = None) -> None:
        """One JSON document on stdout, like ``document``, whose list ``name`` is written while
        ``items`` yields it (never held whole): ``head``'s keys, then ``name``, then the keys of
        ``tail()`` (called once the items are written, e.g. for their count)."""
        self.end_progress()
        write = sys.stdout.write

        def member(key: str, value: Any) -> str:
            text = json.dumps(_sanitized_obj(value), indent=2, sort_keys=True, default=str)
            return f"  {json.dumps(key)}: " + text.replace("\n", "\n  ")

        write("{\n" + "".join(member(k, head[k]) + ",\n" for k in sorted(head)))
        write(f"  {json.dumps(name)}: [")
        separator = "\n    "
        for item in items:
            write(separator + json.dumps(_sanitized_obj(item), sort_keys=True, default=str))
            separator = ",\n    "
        write("]" if separator == "\n    " else "\n  ]")
        ending = tail() if tail is not None else {}
        write("".join(",\n" + member(k, ending[k]) for k in sorted(ending)) + "\n}\n")
        sys.stdout.flush()

    def stream(self, lines: Iterable[str]) -> None:
        """Lines of text on stdout as they come (a Markdown table), each cleaned like ``line``."""
        self.end_progress()
        write = sys.stdout.write
        for text in lines:
            write(_cleaned(text) + "\n")
        sys.stdout.flush()

    def raw(self, text: str) -> None:
        """Text on stdout exactly as given (e.g. `export X=...` lines meant for eval)."""
        raw_line(text)

    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A table; on a terminal too narrow for its ids, one ``column: value`` block per row instead."""
        from rich.table import Table

        self.end_progress()
        cells = [[_cleaned("" if cell is None else str(cell)) for cell in row] for row in rows]
        if len(cells) > PLAIN_TABLE_ROWS:
            self._plain_table(title, columns, cells)
            return
        table = Table(title=clean(title) if title else None, show_lines=False, header_style="bold")
        needed = 3 * len(columns) + 1  # borders and padding
        for index, column in enumerate(columns):
            values = [row[index] for row in cells if index < len(row)]
            widest = max((len(value) for value in values), default=0)
            if values and widest <= _MAX_KEPT_WIDTH and all(value and " " not in value for value in values):
                table.add_column(column, no_wrap=True, min_width=max(widest, len(column)))
                needed += max(widest, len(column))
            else:
                # Free text wraps at spaces only: the column is never narrower than its longest
                # word, so an id inside a sentence ("rolled back by op-...") stays whole.
                longest = max((len(word) for value in values for word in value.split()), default=0)
                least = max(longest, min(max(widest, len(column)), _MIN_TEXT_WIDTH))
                table.add_column(column, min_width=least, overflow="fold")
                needed += least
        if needed > self.out.width:
            self._records(title, columns, cells)
            return
        for row in cells:
            table.add_row(*row)
        self.out.print(table)

    def _plain_table(self, title: str | None, columns: Sequence[str], cells: list[list[str]]) -> None:
        """Columns padded to their widest cell, two spaces apart, nothing cut (ids stay whole)."""
        widths = [max([len(column), *(len(row[i]) for row in cells if i < len(row))])
                  for i, column in enumerate(columns)]
        write = sys.stdout.write
        if title:
            write(clean(title) + "\n")
        write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
        write("  ".join("-" * w for w in widths) + "\n")
        for row in cells:
            write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() + "\n")
        sys.stdout.flush()

    def markdown_table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """A Markdown table on stdout, written as ``rows`` yields it: every cell cleaned like a
        line, its pipes escaped and backticks made quotes (a cell cannot break the table)."""
        self.end_progress()
        write = sys.stdout.write

        def cell(value: Any) -> str:
            return _cleaned("" if value is None else str(value)).replace("|", "\\|").replace("`", "'")

        write("| " + " | ".join(cell(c) for c in columns) + " |\n" + "|" + "---|" * len(columns) + "\n")
        for row in rows:
            write("| " + " | ".join(cell(value) for value in row) + " |\n")
        sys.stdout.flush()

    def _records(self, title: str | None, columns: Sequence[str], cells: list[list[str]]) -> None:
        if title:
            self.out.print(clean(title), style="bold", markup=False)
        width = max((len(c) for c in columns), default=0)
        for number, row in enumerate(cells):
            if number:
                self.out.print()
            for column, value in zip(columns, row, strict=False):
                indent = " " * (width + 4)
                # Wrapped at spaces only, never inside a word: ids stay whole however narrow.
                lines = textwrap.wrap(value, max(self.out.width - len(indent), 20), break_long_words=False,
                                      break_on_hyphens=False) or [""]
                self.out.print(f"  {column.ljust(width)}  " + f"\n{indent}".join(lines), markup=False,
                               overflow="ignore", crop=False)

    def fields(self, title: str | None, mapping: Mapping[str, Any]) -> None:
        """A two-column key/value block."""
        self.end_progress()
        if title:
            self.out.print(clean(title), style="bold", markup=False)
        width = max((len(k) for k in mapping), default=0)
        for key, value in mapping.items():
            self.out.print(f"  {key.ljust(width)}  {clean(value)}", markup=False)

    # -- diagnostics (stderr) -----------------------------------------------------------------
    @property
    def shows_progress(self) -> bool:
        """Progress is for people at a terminal: never with --quiet, in JSON mode, or when stderr
        is not a terminal (cron, pipes)."""
        return not (self.quiet or self.json) and self.err.is_terminal

    def progress(self, text: str) -> None:
        """A free-text progress note on stderr (a milestone, not a phase), where progress is shown."""
        if self.shows_progress:
            with self._lock:
                # Unstyled under a live display: Rich would carry the style into the bar it redraws.
                self.err.print(f"  {clean(text)}", style=None if self._live else "dim", markup=False)

    def phase_changed(self, view: PhaseView) -> None:
        """Draw a phase (``core.progress``): a live Rich bar with done/total, rate, elapsed and
        ETA; under NO_COLOR/--no-color no escape code at all, so a plain line when the phase
        starts, every few seconds of its clock, and when it ends."""
        if not self.shows_progress:
            return
        with self._lock:
            if self.no_color:
                self._plain_phase(view)
            else:
                self._live_phase(view)

    def _plain_phase(self, view: PhaseView) -> None:
        last = self._plain_shown.get(view.name)
        if view.event == STARTED:
            self._plain_shown[view.name] = view.elapsed
            self.err.print(f"  {clean(view.name)} ...", markup=False)
        elif view.event == ENDED or last is None or view.elapsed - last >= PLAIN_PROGRESS_EVERY:
            self._plain_shown[view.name] = view.elapsed
            self.err.print(f"  {clean(view.line())}", markup=False)

    def _live_phase(self, view: PhaseView) -> None:
        if self._live is None:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._live = Progress(SpinnerColumn(finished_text=" "), TextColumn("{task.description}"),
                                  BarColumn(bar_width=24), TextColumn("{task.fields[count]}"),
                                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                                  TextColumn("ETA"), TimeRemainingColumn(), console=self.err,
                                  redirect_stdout=False, redirect_stderr=False, refresh_per_second=4)
            self._live.start()
            self._tasks = {}
        task = self._tasks.get(view.name)
        count = f"{view.done}/{view.total}" if view.total is not None else str(view.done)
        rate = f"{view.rate:.1f}/s" if view.rate is not None else ""
        if task is None or view.event == STARTED:
            self._tasks[view.name] = task = self._live.add_task(clean(view.name), total=view.total,
                                                                count=count, rate=rate)
        total = view.done if view.event == ENDED and view.total is None else view.total
        self._live.update(task, completed=view.done, total=total, count=count, rate=rate)
        if view.event == ENDED:
            self._live.stop_task(task)

    def end_progress(self) -> None:
        """Settle the live progress display (before results are printed, and at the end)."""
        with self._lock:
            if self._live is not None:
                self._live.stop()
                self._live = None

    def phase_lines(self, phases: Iterable[Mapping[str, Any]]) -> None:
        """One line per finished phase (name, done/total, seconds) for a closing summary."""
        phases = list(phases)
        if phases:
            self.line("Phases:")
        for record in phases:
            total = record.get("total")
            count = f"{record.get('done', 0)}/{total}" if total is not None else str(record.get("done", 0))
            self.line(f"  {record.get('name')}: {count} in {float(record.get('seconds') or 0):.1f} s")

    def status(self, text: str) -> None:
        """A one-off note for people on stderr (not progress): silent with --quiet or in JSON mode."""
        if not self.quiet and not self.json:
            self.err.print(clean(text), style="dim", markup=False)

    def warn(self, text: str) -> None:
        if not self.json or not self.quiet:
            self.err.print(clean(text), style="yellow", markup=False)

    def error(self, message: str, remediation: Sequence[str] = (), *, title: str = "Error") -> None:
        """A human error report on stderr (JSON mode puts errors in the document instead)."""
        self.end_progress()
        self.err.print(f"{title}: {clean(message)}", style="bold red", markup=False)
        for step in remediation:
            self.err.print(f"  - {clean(step)}", markup=False)

    def enable_debug_logging(self) -> None:
        """Route awsideman's debug logs (requests, retries) to stderr, sanitised."""
        logger = logging.getLogger("awsideman")
        if not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
            logger.addHandler(_ConsoleHandler(self.err))
        logger.setLevel(logging.DEBUG)

    def help(self, text: str) -> None:
        """Help text shown instead of running a command (stderr, as click does)."""
        sys.stderr.write(text if text.endswith("\n") else text + "\n")

    def trace(self, text: str) -> None:
        """Stack traces and request logs: only with --debug."""
        if self.debug:
            self.err.print(clean(text), style="dim", markup=False)


class _ConsoleHandler(logging.Handler):
    """A log handler that sanitises every record before it reaches the terminal."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.DEBUG)
        self.console = console
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.console.print(clean(self.format(record)), style="dim", markup=False)


def _read_answer() -> str | None:
    """One line of stdin (None at end of input), woken by a signal delivered to any thread."""
    if threading.current_thread() is not threading.main_thread():
        return sys.stdin.readline() or None
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    previous = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    try:
        while True:
            ready, _, _ = select.select([sys.stdin, wake_read], [], [])
            if wake_read in ready:
                os.read(wake_read, 64)
                continue  # the Python handler runs now, in this thread: Ctrl-C raises from here
            return sys.stdin.readline() or None
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake_read)
        os.close(wake_write)
