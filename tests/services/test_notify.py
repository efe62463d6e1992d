"""Notifications: the payload is the operation's account, sanitised; delivery goes through the one
retry owner (re-sent only when the sink provably did not take it), is bounded by each sink's
timeout, and a failure is an outcome (a warning, a log line), never the run's error."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from awsideman.adapters import webhook
from awsideman.config import load_settings
from awsideman.core.cancel import StopSignal
from awsideman.core.error_facts import AwsFact
from awsideman.core.notify_config import NotifySink
from awsideman.core.sanitize import REDACTED
from awsideman.services import notify_message
from awsideman.services.account import Account, operation_account
from awsideman.services.lifecycle import OperationSpec, run_operation
from awsideman.services.notify import FAILED, SENT, TIMED_OUT, Notifier, send_test
from awsideman.services.run_record import RunRecorder
from awsideman.services.state_backend import open_journal

# The sanitiser tests' fixture secrets (tests/core/test_sanitize.py).
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6m2vH8yZ3t6o9/f1Q8hX5w5A+Ik9kz3Jc4bQ=="
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
HOOK = "https://hooks.example.com/services/T0/B0/secret-path"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("AWSIDEMAN_HOME", str(tmp_path / "home"))
    return load_settings()


class FakeTime:
    """The retry policy's clock and sleep: a sleep moves the clock, nothing really waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Posts:
    """An injected webhook ``post``: answers from a script (an exception to raise, or a status)."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.bodies: list[dict] = []
        self.timeouts: list[float] = []

    def __call__(self, url, body, *, content_type, timeout):
        self.bodies.append(json.loads(body))
        self.timeouts.append(timeout)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _with_sinks(settings, *sinks):
    return dataclasses.replace(settings, notify=tuple(sinks))


def _failed_backup(settings, notifier):
    """A backup operation that fails with an error whose message carries secrets, through the real
    lifecycle and recorder (what `backup create` does), with ``notifier`` as the recorder's."""
    recorder = RunRecorder(settings).start()
    recorder.notifier = notifier
    journal = open_journal(settings)
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": f"key {KEY_ID} secret {SECRET} "
                                    f"token {TOKEN} is not authorized to perform: sso:ListInstances"}}, "ListInstances")
    try:
        with run_operation(journal, OperationSpec("backup", {"description": f"aws_session_token={TOKEN}"}),
                           stop=StopSignal()):
            raise denied
    except ClientError:
        pass
    ops = recorder.finish(journal, None)
    try:
        return recorder, ops[0].id, operation_account(journal, ops[0].id)
    finally:
        journal.close()


def test_a_finished_operation_sends_its_account_once_without_secrets(settings):
    posts = Posts()
    settings = _with_sinks(settings, NotifySink(url=HOOK, on=("failed",)),
                           NotifySink(url=HOOK + "/never", on=("succeeded",)))
    recorder, op, account = _failed_backup(settings, Notifier(settings, post=posts))
    assert len(posts.bodies) == 1  # the second sink does not want a failure
    sent = posts.bodies[0]
    assert (sent["operation_id"], sent["kind"], sent["status"]) == (op, "backup", account.status) == (
        op, "backup", "failed")
    assert sent["errors"] == account.errors and sent["errors"][0]["category"] == "authorization"
    assert sent["next_command"] == account.next_command and sent["report_command"] == f"awsideman report show {op}"
    assert sent["severity"] == "high" and sent["counts"] == account.counts
    text = json.dumps(posts.bodies)
    assert REDACTED in text
    for secret in (SECRET, TOKEN, KEY_ID):
        assert secret not in text
    assert recorder.warnings == []
    log = (settings.home / "logs" / f"{op}.log").read_text().splitlines()
    ended = next(i for i, line in enumerate(log) if f"backup {op} ended:" in line)
    noted = next(i for i, line in enumerate(log) if "notification to https://hooks.example.com/...: sent" in line)
    assert noted < ended == len(log) - 1  # the account's status stays the log's last line


def test_a_failed_delivery_is_a_warning_and_a_log_line_never_the_runs_error(settings):
    posts = Posts(webhook.WebhookError(AwsFact(code="403", message="hooks.example.com answered HTTP 403 Forbidden",
                                               http_status=403)))
    settings = _with_sinks(settings, NotifySink(url=HOOK, on=("failed",)))
    recorder, op, account = _failed_backup(settings, Notifier(settings, post=posts))
    assert account.status == "failed" and len(posts.bodies) == 1  # a 403 is not sent again
    assert len(recorder.warnings) == 1
    assert recorder.warnings[0].startswith(f"{op}: notification to https://hooks.example.com/... failed after ")
    assert "HTTP 403" in recorder.warnings[0] and "secret-path" not in recorder.warnings[0]
    log = (settings.home / "logs" / f"{op}.log").read_text()
    assert " WARNING " + op + " [-] awsideman.run: notification to https://hooks.example.com/... failed" in log


def test_a_throttled_webhook_is_sent_again_after_its_retry_after(settings):
    fake = FakeTime()
    throttled = webhook.WebhookError(AwsFact(code="429", message="answered HTTP 429", http_status=429,
                                             retry_after=3.0))
    posts = Posts(throttled, 200)
    sink = NotifySink(url=HOOK, timeout=10)
    [delivery] = Notifier(_with_sinks(settings, sink), post=posts, clock=fake.clock,
                          sleep=fake.sleep).deliver([sink], notify_message.sample_payload())
    assert (delivery.result, delivery.attempts) == (SENT, 2)
    assert fake.slept and fake.slept[0] >= 3.0  # the receiver's Retry-After, through the one retry owner
    assert posts.timeouts[1] == pytest.approx(10 - fake.slept[0])  # the second attempt gets what is left


def test_a_lost_answer_is_not_sent_again(settings):
    fake = FakeTime()
    posts = Posts(TimeoutError("timed out"))
    sink = NotifySink(url=HOOK)
    [delivery] = Notifier(_with_sinks(settings, sink), post=posts, clock=fake.clock,
                          sleep=fake.sleep).deliver([sink], notify_message.sample_payload())
    assert (delivery.result, delivery.attempts, len(posts.bodies)) == (FAILED, 1, 1)
    assert delivery.detail.startswith("TimeoutError")


def test_a_refused_connection_is_retried_until_the_sinks_timeout(settings):
    fake = FakeTime()
    refused = [webhook.EndpointConnectionError("could not connect to https://hooks.example.com/...")] * 50
    posts = Posts(*refused)
    sink = NotifySink(url=HOOK, timeout=5)
    [delivery] = Notifier(_with_sinks(settings, sink), post=posts, clock=fake.clock,
                          sleep=fake.sleep).deliver([sink], notify_message.sample_payload())
    assert delivery.result == FAILED and delivery.detail.startswith("EndpointConnectionError")
    assert delivery.attempts > 2 and sum(fake.slept) <= 5  # retried, never past the sink's time


def test_a_sink_that_hangs_is_left_behind_after_its_timeout(settings):
    release = threading.Event()

    def hangs(url, body, *, content_type, timeout):
        release.wait(30)
        return 200

    quick, stuck = NotifySink(url="sns://arn:aws:sns:us-east-1:123456789012:ok"), NotifySink(url=HOOK, timeout=0.2)

    class Gateway:
        def call(self, service, operation, **params):
            return {"MessageId": "m-1"}

    notifier = Notifier(_with_sinks(settings, quick, stuck), post=hangs, gateway_for=lambda *_: Gateway())
    started = time.monotonic()
    try:
        found = notifier.deliver([quick, stuck], notify_message.sample_payload())
    finally:
        release.set()
    assert time.monotonic() - started < 5  # far less than the 30 s the sink would hang
    assert [(d.kind, d.result) for d in found] == [("sns", SENT), ("webhook", TIMED_OUT)]
    assert found[1].detail == "no outcome within 0.2 s"


def test_notify_test_needs_a_sink(settings):
    from awsideman.core.exceptions import ConfigError

    with pytest.raises(ConfigError, match="no notification sinks configured"):
        send_test(settings)


def test_severity_is_the_worst_error_and_never_below_the_status():
    assert notify_message.severity("succeeded", []) == "low"
    assert notify_message.severity("rolled_back", [{"severity": "medium"}]) == "high"
    assert notify_message.severity("partial", [{"severity": "critical"}]) == "critical"
    assert notify_message.severity("rollback_failed", []) == "critical"


def test_the_slack_text_escapes_markup_and_redacts_secrets():
    account = Account(operation_id="op-20240101T000000Z-abcdef", kind="restore", status="rolled_back",
                      summary={"host": "h<1>", "duration_seconds": 2.0},
                      failures=[{"category": "validation", "severity": "medium", "code": "ValidationException",
                                 "message": f"<!channel> & {KEY_ID} / {SECRET}", "recoverable": False,
                                 "remediation": ["Fix <it>."], "count": 1}],
                      next_command="awsideman restore bk-1 --dry-run")
    text = json.loads(notify_message.slack_body(notify_message.payload(account)))["text"]
    assert "&lt;!channel&gt; &amp; " in text and "<!channel>" not in text
    assert KEY_ID not in text and SECRET not in text and REDACTED in text
    assert text.splitlines()[0].startswith("*awsideman restore op-20240101T000000Z-abcdef rolled_back (high)")
    assert "Next: `awsideman restore bk-1 --dry-run`" in text


# -- the webhook adapter, against real sockets on 127.0.0.1 -------------------------------------
class Scripted(BaseHTTPRequestHandler):
    """Answers each POST with the next of the server's ``script`` statuses (then 200)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(self.path)
        status = self.server.script.pop(0) if self.server.script else 200
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        if status == 302:
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.requests, server.script = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("script", "result", "requests", "words"), [
    ([429], SENT, ["/hook", "/hook"], ""),  # throttled: not taken, so sent again
    ([503], FAILED, ["/hook"], "HTTP 503"),  # maybe taken: never twice
    ([302], FAILED, ["/hook"], "redirects are not followed"),
    ([404], FAILED, ["/hook"], "HTTP 404"),
])
def test_the_webhook_adapter_answers_in_the_retry_policys_terms(settings, scripted, script, result, requests, words):
    scripted.script = list(script)
    sink = NotifySink(url=f"http://127.0.0.1:{scripted.server_port}/hook", timeout=5)
    fake = FakeTime()
    [delivery] = Notifier(_with_sinks(settings, sink), clock=fake.clock, sleep=fake.sleep).deliver(
        [sink], notify_message.sample_payload())
    assert delivery.result == result and words in delivery.detail, delivery
    assert scripted.requests == requests  # the redirect's target was never asked


def test_a_closed_port_is_a_connection_error_and_retried(settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    fake = FakeTime()
    sink = NotifySink(url=f"http://127.0.0.1:{port}/hook", timeout=3)
    [delivery] = Notifier(_with_sinks(settings, sink), clock=fake.clock, sleep=fake.sleep).deliver(
        [sink], notify_message.sample_payload())
    assert delivery.result == FAILED and delivery.detail.startswith("EndpointConnectionError"), delivery
    assert delivery.attempts > 1
