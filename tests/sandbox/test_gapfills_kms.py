"""KMS gap fills through boto3: disabled keys and mismatched key ids fail like real KMS."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_disabled_key_refuses_data_keys_and_decrypt(sandbox):
    kms = sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.generate_data_key(KeyId=key, KeySpec="AES_256")["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=blob)
    assert _code(caught) == "DisabledException"
    with pytest.raises(ClientError) as caught:
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert _code(caught) == "DisabledException"
    kms.enable_key(KeyId=key)
    assert len(kms.decrypt(CiphertextBlob=blob)["Plaintext"]) == 32


def test_pending_deletion_key_is_invalid_state(sandbox):
    kms = sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=blob)
    assert _code(caught) in ("KMSInvalidStateException", "DisabledException")


def test_decrypt_with_another_key_id_is_incorrect_key(sandbox):
    kms = sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
    with pytest.raises(ClientError) as caught:
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert _code(caught) == "IncorrectKeyException"


def test_enable_and_disable_take_a_key_arn(sandbox):
    kms = sandbox.client("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Enabled"] is False
    kms.enable_key(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Enabled"] is True
