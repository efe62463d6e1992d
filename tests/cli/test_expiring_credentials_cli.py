"""End to end through the executable: credentials that expire mid-restore (issue 23).

The emulator's `credentials_expire_after_calls` quirk refuses every request signed with a key
after its N-th one, with ExpiredTokenException, as AWS does once a session ends.

- Keys from the environment cannot be refreshed: the restore stops at the first refusal (no
  request after it, no rollback attempted with dead keys), exit 1, `authentication`, journaled
  as failed and resumable; `restore --resume OP` with fresh keys finishes it.
- A `credential_process` profile is refreshed (a new session runs the process again): the
  restore carries on and succeeds, exit 0.
"""

from __future__ import annotations

import sys

import pytest

from awsideman.core.changes import RESOURCES
from tests.drift import differences, drift
from tests.helpers import backup_records, cli_json, live_records, run_cli

pytestmark = pytest.mark.e2e
SERIAL = "concurrency: 1\n"  # one request in flight per resource kind


def _with_keys(env: dict[str, str], creds: dict) -> dict[str, str]:
    return dict(env, AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                AWS_SESSION_TOKEN=creds["SessionToken"])


def _expired(served) -> int:
    return sum(n for k, n in served.fault_counters().items() if k.endswith(":expired_token"))


def _drifted(served, env):
    served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client, seed=3)
    return backup_id, backup_records(env, backup_id)


def test_environment_credentials_that_expire_stop_the_restore_resumable_and_not_rolled_back(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    backup_id, expected = _drifted(served, env)
    config = tmp_path / "serial.yaml"
    config.write_text(SERIAL)
    served.set_faults({"quirks": {"credentials_expire_after_calls": 30}})
    first = served.mint_credentials()
    served.reset_counters()

    proc = run_cli(_with_keys(env, first), "-o", "json", "--config", str(config),
                   "restore", backup_id, "--prune", "--yes")
    result = cli_json(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert result["status"] == "failed"
    op = result["operation_id"]
    assert result["errors"][0]["category"] == "authentication"
    # One lane of workers per resource kind: at most one request of each was in flight when the
    # first refusal came back; none was sent after it (each would be one more refusal).
    assert 1 <= _expired(served) <= len(RESOURCES), "a request went out after the first expiry answer"
    assert result["leftover"] and all("nothing was rolled back" in item["why"] for item in result["leftover"])
    steps = " ".join(result["errors"][0]["remediation"])
    assert f"awsideman restore --resume {op}" in steps

    report = cli_json(run_cli(env, "-o", "json", "report", "show", op))
    assert report["status"] == "failed" and report["next_command"] == f"awsideman restore --resume {op}"
    assert not report["compensated"] and not report["links"]["rollbacks"]
    assert any("credentials are refreshed" in step for step in report["recovery"]), report["recovery"]

    again = run_cli(_with_keys(env, first), "-o", "json", "restore", "--resume", op, "--yes")
    assert again.returncode == 1, again.stdout + again.stderr  # still the dead keys: refused, nothing lost
    assert cli_json(again)["errors"][0]["category"] == "authentication"

    served.set_faults({"quirks": {"credentials_expire_after_calls": 10_000}})
    fresh = served.mint_credentials()
    resumed = run_cli(_with_keys(env, fresh), "-o", "json", "restore", "--resume", op, "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert cli_json(resumed)["status"] == "succeeded"
    served.set_faults({})
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)


CREDENTIAL_PROCESS = """\
import json, sys, urllib.request
with open(sys.argv[2], "a") as log:
    log.write("minted\\n")
request = urllib.request.Request(sys.argv[1] + "/_sandbox/credentials", data=b"{}", method="POST")
print(json.dumps(json.load(urllib.request.urlopen(request))))
"""


def test_a_credential_process_profile_is_refreshed_mid_restore_and_the_restore_succeeds(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    backup_id, expected = _drifted(served, env)
    script, minted = tmp_path / "mint.py", tmp_path / "minted.log"
    script.write_text(CREDENTIAL_PROCESS)
    config = tmp_path / "aws-config"
    config.write_text(f"[profile refreshing]\nregion = us-east-1\n"
                      f"credential_process = {sys.executable} {script} {served.endpoint_url} {minted}\n")
    profile_env = {k: v for k, v in env.items()
                   if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    profile_env.update(AWS_CONFIG_FILE=str(config), AWS_PROFILE="refreshing")
    served.set_faults({"quirks": {"credentials_expire_after_calls": 30}})
    served.reset_counters()

    proc = run_cli(profile_env, "-o", "json", "restore", backup_id, "--prune", "--yes")
    result = cli_json(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["status"] == "succeeded"
    assert _expired(served) >= 1, "the credentials never expired: the test proves nothing"
    assert len(minted.read_text().splitlines()) >= 2  # the first session, then at least one refresh
    served.set_faults({})
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)
