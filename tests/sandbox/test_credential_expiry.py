"""The quirk of expiring credentials through real boto3 clients: a key expires after N calls or N
seconds from its first call (the emulator's clock advanced, never waited for), every later
request signed with it gets the service's ExpiredTokenException, and minted credentials work."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from awsideman.sandbox.credential_expiry import EXPIRED_MESSAGE, access_key_of
from awsideman.sandbox.server import SandboxClient

NO_RETRY = Config(retries={"total_max_attempts": 1})


def _client(endpoint: str | None, service: str, creds: dict) -> object:
    session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds.get("SessionToken"), region_name="us-east-1")
    return session.client(service, endpoint_url=endpoint, config=NO_RETRY)


def _expired(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def test_access_key_is_read_from_a_sigv4_header() -> None:
    header = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/sso/aws4_request, SignedHeaders=host"
    assert access_key_of(header) == "ASIAEXAMPLE"
    assert access_key_of("") is None


def test_a_key_expires_after_n_calls_and_a_minted_one_works(served_sandbox) -> None:
    served_sandbox.set_faults({"quirks": {"credentials_expire_after_calls": 2}})
    creds = served_sandbox.mint_credentials()
    sso = _client(served_sandbox.endpoint_url, "sso-admin", creds)
    sso.list_instances()
    sso.list_instances()
    error = _expired(sso.list_instances)
    assert error.response["Error"]["Code"] == "ExpiredTokenException"
    assert error.response["Error"]["Message"] == EXPIRED_MESSAGE
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Every later request with that key, to any service, is refused; STS speaks its own dialect.
    sts = _client(served_sandbox.endpoint_url, "sts", creds)
    assert _expired(sts.get_caller_identity).response["Error"]["Code"] == "ExpiredToken"
    fresh = SandboxClient(served_sandbox.endpoint_url).mint_credentials()
    assert fresh["AccessKeyId"] != creds["AccessKeyId"] and fresh["Version"] == 1 and fresh["Expiration"]
    assert _client(served_sandbox.endpoint_url, "sso-admin", fresh).list_instances()["Instances"]
    faults = served_sandbox.fault_counters()
    assert faults == {"sso-admin:ListInstances:expired_token": 1, "sts:GetCallerIdentity:expired_token": 1}


def test_a_key_expires_n_seconds_after_its_first_call_on_the_emulators_clock(sandbox) -> None:
    sandbox.set_faults({"quirks": {"credentials_expire_after_seconds": 60}})
    creds = sandbox.mint_credentials()
    ids = _client(None, "sso-admin", creds)
    ids.list_instances()
    sandbox.advance(59)
    ids.list_instances()
    sandbox.advance(1)
    assert _expired(ids.list_instances).response["Error"]["Code"] == "ExpiredTokenException"
    later = sandbox.mint_credentials()  # first used now: its minute starts now
    assert _client(None, "sso-admin", later).list_instances()["Instances"]


def test_without_the_quirk_nothing_expires(served_sandbox) -> None:
    sso = served_sandbox.client("sso-admin", config=NO_RETRY)
    for _ in range(5):
        sso.list_instances()
    assert served_sandbox.fault_counters() == {}
