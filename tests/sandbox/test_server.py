"""The served sandbox: one endpoint for every service, control endpoints, resets, fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from awsideman.sandbox.fault_rules import FaultRulesError
from awsideman.sandbox.server import SandboxClient, SandboxServer, SandboxUnavailableError

NO_RETRY = Config(retries={"total_max_attempts": 1})
STORE_ID = "d-1234567890"


@pytest.mark.served
def test_server_context_manager_env_and_stop() -> None:
    with SandboxServer(rules={"rules": [{"operation": "ListKeys", "throttle": 1}]}) as server:
        env = server.env()
        assert env["AWS_ENDPOINT_URL"] == server.endpoint_url
        assert server.endpoint_url.startswith("http://127.0.0.1:") and not server.endpoint_url.endswith(":0")
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert SandboxClient(server.endpoint_url).faults()["rules"][0]["operation"] == "ListKeys"
        url = server.endpoint_url
    import boto3

    client = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=NO_RETRY)
    with pytest.raises(EndpointConnectionError):
        client.get_caller_identity()


def test_every_service_through_one_endpoint(served_sandbox) -> None:
    sso = served_sandbox.client("sso-admin")
    instance = sso.list_instances()["Instances"][0]
    ids = served_sandbox.client("identitystore")
    user = ids.create_user(IdentityStoreId=instance["IdentityStoreId"], UserName="ada",
                           DisplayName="Ada", Name={"GivenName": "Ada", "FamilyName": "Lovelace"})
    assert ids.describe_user(IdentityStoreId=instance["IdentityStoreId"], UserId=user["UserId"])["UserName"] == "ada"
    s3 = served_sandbox.client("s3")
    s3.create_bucket(Bucket="sandbox-backups")  # an IP endpoint makes botocore use path-style
    s3.put_object(Bucket="sandbox-backups", Key="bk-1/manifest.json", Body=b"{}")
    s3.copy_object(Bucket="sandbox-backups", Key="bk-1/copy.json",
                   CopySource={"Bucket": "sandbox-backups", "Key": "bk-1/manifest.json"})
    listed = s3.list_objects_v2(Bucket="sandbox-backups", Prefix="bk-1/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["bk-1/copy.json", "bk-1/manifest.json"]
    assert s3.get_object(Bucket="sandbox-backups", Key="bk-1/manifest.json")["Body"].read() == b"{}"
    kms = served_sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert served_sandbox.client("sts").get_caller_identity()["Account"] == "123456789012"
    assert served_sandbox.counters() == {
        "sso-admin:ListInstances": 1, "identitystore:CreateUser": 1, "identitystore:DescribeUser": 1,
        "s3:CreateBucket": 1, "s3:PutObject": 1, "s3:CopyObject": 1, "s3:ListObjectsV2": 1,
        "s3:GetObject": 1, "kms:CreateKey": 1, "kms:Encrypt": 1, "kms:Decrypt": 1,
        "sts:GetCallerIdentity": 1,
    }


def test_control_endpoints(served_sandbox) -> None:
    control = SandboxClient(served_sandbox.endpoint_url)
    ids = served_sandbox.client("identitystore", config=NO_RETRY)
    ids.list_users(IdentityStoreId=STORE_ID)
    assert control.counters() == {"identitystore:ListUsers": 1}
    control.set_faults({"rules": [{"operation": "ListUsers", "throttle": 1}]})
    with pytest.raises(Exception, match="ThrottlingException"):
        ids.list_users(IdentityStoreId=STORE_ID)
    assert control.fault_counters() == {"identitystore:ListUsers:throttle": 1}
    control.reset_counters()
    assert control.counters() == {}
    with pytest.raises(FaultRulesError, match=r"^rules\[0\].throttle: must be a number"):
        control.set_faults({"rules": [{"throttle": 2}]})  # validated locally before sending
    with pytest.raises(SandboxUnavailableError, match="no control endpoint"):
        control._call("GET", "nothing-here")


def test_server_validates_rules_it_is_sent(served_sandbox) -> None:
    request = urllib.request.Request(f"{served_sandbox.endpoint_url}/_sandbox/faults", method="PUT",
                                     data=json.dumps({"rules": [{"reset": 7}]}).encode())
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"] == (
        "PUT /_sandbox/faults: rules[0].reset: must be a number between 0 and 1")


def test_reset_empties_state_and_counters_keeps_rules(served_sandbox) -> None:
    control = SandboxClient(served_sandbox.endpoint_url)
    result = served_sandbox.seed("tiny")
    ids = served_sandbox.client("identitystore")
    assert len(ids.list_users(IdentityStoreId=result.identity_store_id)["Users"]) == len(result.users)
    control.set_faults({"latency_ms": 1})
    control.reset()
    assert control.counters() == {}
    assert control.faults()["latency_ms"] == 1
    store = served_sandbox.client("sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
    assert ids.list_users(IdentityStoreId=store)["Users"] == []
    control.reset(faults=True)
    assert control.faults()["latency_ms"] == 0


def test_unreachable_sandbox_is_named() -> None:
    with pytest.raises(SandboxUnavailableError, match=r"no sandbox answering at http://127.0.0.1:9 \("):
        SandboxClient("http://127.0.0.1:9", timeout=2).counters()


@pytest.fixture
def real_looking_aws_env(monkeypatch):
    """A developer shell with a real profile and endpoint override, set before the sandbox starts."""
    monkeypatch.setenv("AWS_PROFILE", "production-admin")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_ADMIN", "https://example.invalid")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALREALREALREAL")


def test_served_env_drops_real_aws_settings(real_looking_aws_env, served_sandbox) -> None:
    env = served_sandbox.env
    assert "AWS_PROFILE" not in env and "AWS_ENDPOINT_URL_SSO_ADMIN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWSIDEMAN_HOME"] == str(served_sandbox.home)
    assert env["PATH"] == os.environ["PATH"]
    script = ("import boto3; print(boto3.client('sso-admin').list_instances()['Instances'][0]"
              "['InstanceArn'].startswith('arn:aws:sso:::instance/'))")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr


ISOLATION_TESTS = """
from botocore.config import Config


def test_1_leaves_state_behind(served_sandbox):
    served_sandbox.seed("tiny")
    served_sandbox.set_faults({"rules": [{"operation": "ListUsers", "throttle": 1}]})


def test_2_sees_none_of_it(served_sandbox):
    instance = served_sandbox.client("sso-admin").list_instances()["Instances"][0]
    ids = served_sandbox.client("identitystore", config=Config(retries={"total_max_attempts": 1}))
    assert ids.list_users(IdentityStoreId=instance["IdentityStoreId"])["Users"] == []
    assert served_sandbox.counters() == {"sso-admin:ListInstances": 1, "identitystore:ListUsers": 1}
"""


@pytest.mark.served
def test_served_state_is_isolated_between_tests(pytester) -> None:
    # Two tests sharing one server, in a fixed order in an inner session: the second sees none
    # of the first's users, rules or counters. (As two tests of this suite it depended on their
    # order, and on xdist putting both on the same worker.)
    pytester.makeconftest('pytest_plugins = ["awsideman.sandbox.pytest_plugin"]')
    pytester.makepyfile(ISOLATION_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist")
    result.assert_outcomes(passed=2)


def test_in_process_sandbox_seed_and_env(sandbox) -> None:
    import boto3

    result = sandbox.seed("tiny")
    # mock_aws() swaps in its own dummy keys; what matters is nothing real or redirecting is left
    assert "AWS_ENDPOINT_URL" not in os.environ and "AWS_PROFILE" not in os.environ
    assert os.environ["AWSIDEMAN_HOME"] == str(sandbox.home)
    users = boto3.client("identitystore").list_users(IdentityStoreId=result.identity_store_id)["Users"]
    assert sorted(u["UserName"] for u in users) == sorted(result.users)


@pytest.mark.served
def test_one_test_cannot_use_both_fixtures(pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["awsideman.sandbox.pytest_plugin"]')
    pytester.makepyfile("def test_both(sandbox, served_sandbox):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot use both `sandbox` and `served_sandbox`*"])


def test_in_process_sandbox_ignores_real_aws_settings(real_looking_aws_env, sandbox) -> None:
    import boto3

    assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL_SSO_ADMIN" not in os.environ
    assert boto3.client("sso-admin").list_instances()["Instances"]
    assert sandbox.counters() == {"sso-admin:ListInstances": 1}
