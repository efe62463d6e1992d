"""End to end through the executable: notifications (issue 24, item 4).

A webhook on 127.0.0.1 and the emulator's SNS (a topic with an SQS queue subscribed) receive
exactly one message per finished operation whose status the sink's `on:` names, and it is the
operation's account as `report show` gives it, with no secret in it; a sink that accepts and
never answers costs its timeout, not the run; `notify test` reaches every sink and says which
could not be reached; a bad `notify:` is refused at start (exit 2).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.drift import drift
from tests.helpers import cli_json, run_cli

pytestmark = pytest.mark.e2e
# The sanitiser tests' fixture secrets (tests/core/test_sanitize.py).
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6m2vH8yZ3t6o9/f1Q8hX5w5A+Ik9kz3Jc4bQ=="
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
FAIL = {"operation": "CreateAccountAssignment", "async_fail_after": 0,
        "failure_reason": f"IAM role quota reached (key {KEY_ID}, secret {SECRET})"}


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POST body by path and answers 200."""

    def __init__(self) -> None:
        bodies: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append((self.path, self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.bodies = bodies
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def messages(self, path: str) -> list[dict]:
        return [json.loads(body) for where, body in self.bodies if where == path]


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _topic_with_queue(served, name="awsideman-alerts"):
    """An SNS topic with an SQS queue subscribed (raw delivery: the queue holds the message itself)."""
    sns, sqs = served.client("sns"), served.client("sqs")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{name}-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return topic, queue


def _drain(served, queue):
    sqs, found = served.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        found += [m["Body"] for m in got]
        for message in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def _configure(served, text):
    config = served.home / "config.yaml"  # the unpaced rate limits stay (tests/conftest.py)
    config.write_text(config.read_text() + text)


def test_one_message_per_finished_operation_to_each_sink_that_wants_it_without_secrets(served_sandbox, receiver):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=123)
    topic, queue = _topic_with_queue(served)
    _configure(served, f"""notify:
  - url: {receiver.url('/hook/T0/secret-path')}
    on: [succeeded, rolled_back]
  - url: sns://{topic}
    on: [rolled_back]
  - url: {receiver.url('/slack')}
    on: [failed, rollback_failed]
    format: slack
""")
    backup = run_cli(env, "-o", "json", "backup", "create", "--description", f"token {TOKEN} key {KEY_ID}")
    assert backup.returncode == 0 and backup.stderr == "", backup.stderr
    backup_op, backup_id = cli_json(backup)["operation_id"], cli_json(backup)["backup_id"]
    assert [(m["operation_id"], m["status"]) for m in receiver.messages("/hook/T0/secret-path")] == [
        (backup_op, "succeeded")]
    assert _drain(served, queue) == []  # the topic wants rolled_back only

    drift(served.client)
    served.set_faults({"rules": [FAIL]})
    restore = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes")
    assert restore.returncode == 4, restore.stdout + restore.stderr
    op = cli_json(restore)["operation_id"]
    report = cli_json(run_cli(env, "-o", "json", "report", "show", op))
    assert report["status"] == "rolled_back" and report["errors"]

    hooks = receiver.messages("/hook/T0/secret-path")
    topic_bodies = _drain(served, queue)
    assert [m["operation_id"] for m in hooks] == [backup_op, op]
    assert [json.loads(b)["operation_id"] for b in topic_bodies] == [op]
    for message in (hooks[1], json.loads(topic_bodies[0])):
        assert (message["kind"], message["status"], message["severity"]) == ("restore", "rolled_back", "high")
        assert message["counts"] == report["counts"] and message["errors"] == report["errors"]
        assert message["next_command"] == report["next_command"] and message["backup_id"] == backup_id
        assert message["report_command"] == f"awsideman report show {op}"
    assert receiver.messages("/slack") == []  # no operation ended failed or rollback_failed
    everything = " ".join([body for _, body in receiver.bodies] + topic_bodies)
    assert "REDACTED" in everything  # the failure reason's secrets were there, and redacted
    for secret in (SECRET, TOKEN, KEY_ID):
        assert secret not in everything


def test_a_sink_that_never_answers_costs_its_timeout_not_the_run(served_sandbox, receiver, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=5)
    silent = socket.socket()  # accepts (the kernel completes the handshake) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    _configure(served, f"""notify:
  - url: http://127.0.0.1:{port}/hook
    on: [succeeded]
    timeout: 1
  - url: {receiver.url('/ok')}
    on: [succeeded]
""")
    metrics = tmp_path / "awsideman.prom"
    try:  # a sink that held the run for good would fail run_cli's own timeout
        backup = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "backup", "create")
    finally:
        silent.close()
    assert backup.returncode == 0, backup.stderr
    op = cli_json(backup)["operation_id"]
    assert [m["operation_id"] for m in receiver.messages("/ok")] == [op]  # the other sink is not held up
    warning = f"{op}: notification to http://127.0.0.1:{port}/... failed after "
    assert warning in backup.stderr, backup.stderr
    log = (served.home / "logs" / f"{op}.log").read_text()
    spent = re.search(rf"WARNING {op} \[-\] awsideman.run: notification to http://127.0.0.1:{port}/\.\.\. "
                      r"(?:failed|timed out) after (\d+\.\d) s: ", log)
    assert spent and float(spent[1]) <= 1.5, log  # its timeout (the policy's deadline), then the grace
    assert log.rstrip().splitlines()[-1].endswith(f"backup {op} ended: status=succeeded")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics.read_text()) for s in family.samples}
    assert samples[("awsideman_last_run_notifications_failed", (("operation", "backup"),))] == 1


def test_notify_test_reaches_every_sink_and_names_the_one_that_failed(served_sandbox, receiver):
    served, env = served_sandbox, served_sandbox.env
    topic, queue = _topic_with_queue(served)
    missing = topic.rsplit(":", 1)[0] + ":no-such-topic"
    _configure(served, f"""notify:
  - url: {receiver.url('/hook')}
    on: [failed]
    min_severity: critical
  - url: sns://{topic}
    on: [succeeded]
  - url: sns://{missing}
    timeout: 2
""")
    proc = run_cli(env, "-o", "json", "notify", "test")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = cli_json(proc)
    assert [(s["sink"], s["result"]) for s in result["sinks"]] == [
        (receiver.url("/..."), "sent"), (f"sns://{topic}", "sent"), (f"sns://{missing}", "failed")]
    assert (result["sent"], result["failed"]) == (2, 1)
    assert "NotFound" in result["sinks"][2]["detail"]
    # Every sink, whatever its on: and min_severity; marked as a test.
    [hooked] = receiver.messages("/hook")
    [published] = [json.loads(body) for body in _drain(served, queue)]
    assert hooked["test"] is True and published["test"] is True and hooked["summary"].startswith("TEST ")

    config = served.home / "config.yaml"  # the failing sink gone: everything reached, exit 0, a table
    config.write_text(config.read_text().split(f"  - url: sns://{missing}")[0])
    text = run_cli(env, "notify", "test")
    assert text.returncode == 0, text.stderr
    assert "2 of 2 sink(s) reached." in text.stdout and "sent" in text.stdout


def test_a_bad_sink_is_refused_at_start_naming_the_file_and_the_key(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    _configure(served, "notify:\n  - url: http://hooks.example.com/services/T0/B0/secret-path\n")
    proc = run_cli(env, "backup", "create")
    assert proc.returncode == 2
    assert f"{served.home / 'config.yaml'}: notify.0.url: must be " in proc.stderr, proc.stderr
    assert "http://hooks.example.com/..." in proc.stderr and "secret-path" not in proc.stderr
    assert served.counters() == {}  # refused before any API call
    assert run_cli(env, "notify", "test").returncode == 2


def test_a_stopped_run_still_announces_that_it_was_interrupted(served_sandbox, receiver):
    """The run's stop signal ends its AWS calls; the notification's own gateway is not bound to it."""
    import signal
    import subprocess

    from tests.helpers import awsideman_command

    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=31)
    topic, queue = _topic_with_queue(served)
    served.set_faults({"rules": [{"operation": "sso-admin:DescribePermissionSet", "throttle": 1.0}]})
    _configure(served, f"""retry: {{base_delay: 600, max_delay: 600, jitter: false}}
notify:
  - url: {receiver.url('/hook')}
    on: [interrupted]
  - url: sns://{topic}
    on: [interrupted]
""")
    proc = subprocess.Popen([*awsideman_command(), "backup", "create"], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while served.counters().get("sso-admin:DescribePermissionSet", 0) < 1:  # now in a 600 s backoff
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    [hooked] = receiver.messages("/hook")
    [published] = [json.loads(body) for body in _drain(served, queue)]
    assert hooked["status"] == published["status"] == "interrupted"
    assert hooked["operation_id"] == published["operation_id"]
    assert hooked["next_command"] == f"awsideman backup create --resume {hooked['operation_id']}"
