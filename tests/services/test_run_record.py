"""RunRecorder: one line per event (time, level, operation, phase, logger), and a log that ends
with its operation's account, read from the journal (issue 20, finding 2)."""

from __future__ import annotations

import logging
import re
import time

import pytest
from botocore.exceptions import ClientError

from awsideman.config import load_settings
from awsideman.core.cancel import StopSignal
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.progress import PhaseTracker
from awsideman.services.account import operation_account
from awsideman.services.context import _PhaseLog
from awsideman.services.lifecycle import OperationSpec, run_operation
from awsideman.services.log_context import current
from awsideman.services.run_record import RunRecorder
from awsideman.services.state_backend import open_journal

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) (op-\S+|-) \[([a-z]+|-)\] "
                  r"awsideman[\w.]*: .+$")
log = logging.getLogger("awsideman.test")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("AWSIDEMAN_HOME", str(tmp_path / "home"))
    return load_settings()


def _run(settings, body, *, clock):
    """One backup operation through the real lifecycle, with a recorder and phases as a command has."""
    recorder = RunRecorder(settings, clock=clock).start()
    journal = open_journal(settings)
    phases = PhaseTracker(listener=_PhaseLog(None, recorder), note=recorder.progress)
    try:
        with run_operation(journal, OperationSpec("backup", {}), stop=StopSignal(), phases=phases) as run:
            body(run, phases)
    except ClientError:
        pass
    finally:
        ops = recorder.finish(journal, None)
    try:
        return ops[0].id, operation_account(journal, ops[0].id)
    finally:
        journal.close()


def test_a_failed_operation_logs_one_line_per_event_and_ends_with_its_account(settings):
    now = time.time()
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "User: x is not authorized to "
                                    "perform: sso:ListInstances\nsecond line"}}, "ListInstances")

    def body(run, phases):
        with phases.phase("reading", total=2) as reading:
            log.debug("request sso-admin:ListInstances")
            assert current() == (run.id, "reading")
            reading.advance()
            raise denied

    op_id, account = _run(settings, body, clock=lambda: now)
    lines = (settings.home / "logs" / f"{op_id}.log").read_text().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert any(f" DEBUG {op_id} [reading] awsideman.test: request sso-admin:ListInstances" in line for line in lines)
    assert any(f"INFO {op_id} [reading] awsideman: phase reading started" in line for line in lines)

    # The ending comes from the journal's account: the same error, status and next command as `report show`.
    [error] = account.errors
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    steps = error["remediation"]
    assert lines[-(len(steps) + 2):] == [
        f"{stamp} ERROR {op_id} [-] awsideman.run: error category=authorization severity={error['severity']} "
        f"recoverable=no code=AccessDeniedException: {error['message']}".replace("\n", " | "),
        *(f"{stamp} INFO {op_id} [-] awsideman.run: what to do: {step}" for step in steps),
        f"{stamp} WARNING {op_id} [-] awsideman.run: backup {op_id} ended: status=failed; "
        f"next: {account.next_command}",
    ]
    assert account.status == "failed" and account.next_command == f"awsideman backup create --resume {op_id}"
    assert current() == (None, None)  # nothing logged after the operation is stamped with it


def test_a_successful_operation_ends_with_its_status(settings):
    def body(run, phases):
        with phases.phase("writing", total=1) as writing:
            writing.advance()
        run.finish("succeeded")

    op_id, account = _run(settings, body, clock=time.time)
    lines = (settings.home / "logs" / f"{op_id}.log").read_text().splitlines()
    assert account.status == "succeeded" and not account.errors
    assert lines[-1].endswith(f"INFO {op_id} [-] awsideman.run: backup {op_id} ended: status=succeeded")
    assert not any(" ERROR " in line for line in lines)


def test_a_resumed_operation_keeps_its_earlier_log_first_and_ends_once_per_run(settings):
    calls = iter(range(2))

    def body(run, phases):
        if next(calls) == 0:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ListUsers")
        run.finish("succeeded")

    op_id, _ = _run(settings, body, clock=time.time)
    recorder = RunRecorder(settings).start()
    journal = open_journal(settings)
    try:
        with run_operation(journal, OperationSpec("backup", {}, resume=op_id), stop=StopSignal(),
                           analyzer=ErrorAnalyzer()) as run:
            body(run, None)
        recorder.finish(journal, None)
    finally:
        journal.close()
    lines = (settings.home / "logs" / f"{op_id}.log").read_text().splitlines()
    ended = [line for line in lines if " ended: status=" in line]
    # The first run's ending says what that run found; the log ends with how the operation ended.
    assert [line.split("status=")[1].split(";")[0] for line in ended] == ["failed", "succeeded"]
    assert lines[-1] == ended[-1]


def test_a_record_written_after_a_later_stamped_one_does_not_go_back_in_time(settings):
    """A worker thread preempted between making its record and writing it (seen in CI): the file
    still sorts by time as written, and the late record keeps its own message."""
    recorder = RunRecorder(settings).start()
    try:
        handler = recorder.handler
        late = logging.makeLogRecord({"name": "awsideman.aws", "levelno": logging.DEBUG, "levelname": "DEBUG",
                                      "msg": "made first", "created": 1_000.002})
        early = logging.makeLogRecord({"name": "awsideman.aws", "levelno": logging.DEBUG, "levelname": "DEBUG",
                                       "msg": "made second", "created": 1_000.009})
        handler.handle(early)
        handler.handle(late)
        lines = recorder.path.read_text().splitlines()
    finally:
        journal = open_journal(settings)
        try:
            recorder.finish(journal, None)
        finally:
            journal.close()
    stamps = [line.split(" ", 1)[0] for line in lines[-2:]]
    assert stamps == ["1970-01-01T00:16:40.009Z"] * 2 and lines[-1].endswith("made first")
    assert late.created == 1_000.002  # the other handlers see the record as it was made
