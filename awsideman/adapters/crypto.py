"""Client-side envelope encryption: a KMS data key per backup, AES-256-GCM on the payload.

The manifest records how the payload is encrypted (key id, wrapped data key, nonce) and never
the plaintext key. The backup id is bound in as KMS encryption context, and the manifest itself
(less the payload's sha256 and size, which come from the ciphertext) as GCM associated data,
so neither a swapped payload nor an edited manifest decrypts. Backups written before the
manifest was bound (no ``associated_data`` in their encryption block) bound only the backup id
and are still read that way; removing the marker from a newer backup does not downgrade it,
since its tag then fails to verify.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from awsideman.adapters.aws import AwsGateway, client_error_code
from awsideman.core.exceptions import EncryptionError

ALGORITHM = "AES-256-GCM"
KIND = "kms-envelope"
BOUND_MANIFEST = "manifest"  # the encryption block's `associated_data`: the manifest is authenticated


def _context(backup_id: str) -> dict[str, str]:
    return {"awsideman:backup-id": backup_id}


class PayloadKey:
    """A fresh data key for one backup's payload, and the manifest's `encryption` block for it."""

    def __init__(self, gateway: AwsGateway, key_id: str, backup_id: str) -> None:
        key = _kms_call(gateway, "GenerateDataKey", key_id, "create a data key with", KeyId=key_id,
                        KeySpec="AES_256", EncryptionContext=_context(backup_id))
        self._key = key["Plaintext"]
        self._nonce = os.urandom(12)
        self.info: dict[str, Any] = {
            "type": KIND, "algorithm": ALGORITHM, "kms_key_id": key.get("KeyId", key_id),
            "encrypted_data_key": base64.b64encode(key["CiphertextBlob"]).decode(),
            "nonce": base64.b64encode(self._nonce).decode(), "encryption_context": _context(backup_id),
            "associated_data": BOUND_MANIFEST}

    def seal(self, data: bytes, bound_manifest: bytes) -> bytes:
        """The encrypted payload, its tag covering ``bound_manifest`` too."""
        return AESGCM(self._key).encrypt(self._nonce, data, bound_manifest)


def decrypt(gateway: AwsGateway, info: dict[str, Any], backup_id: str, data: bytes, bound_manifest: bytes) -> bytes:
    """Plain payload; EncryptionError when the key is wrong, disabled or the payload or manifest was altered."""
    if info.get("type") != KIND or info.get("algorithm") != ALGORITHM:
        raise EncryptionError(f"{backup_id}: unknown payload encryption {info.get('type')!r}")
    key_id = str(info.get("kms_key_id"))
    try:
        wrapped = base64.b64decode(info["encrypted_data_key"], validate=True)
        nonce = base64.b64decode(info["nonce"], validate=True)
    except (KeyError, ValueError, TypeError) as exc:
        raise EncryptionError(f"{backup_id}: manifest encryption block is malformed") from exc
    if len(nonce) != 12:
        raise EncryptionError(f"{backup_id}: manifest encryption block is malformed (nonce of {len(nonce)} bytes)")
    key = _kms_call(gateway, "Decrypt", key_id, "decrypt the data key with", CiphertextBlob=wrapped, KeyId=key_id,
                    EncryptionContext=info.get("encryption_context") or _context(backup_id))
    bound = info.get("associated_data") == BOUND_MANIFEST
    try:
        return AESGCM(key["Plaintext"]).decrypt(nonce, data, bound_manifest if bound else backup_id.encode())
    except InvalidTag as exc:
        what = "altered payload or manifest" if bound else "altered payload"
        raise EncryptionError(f"{backup_id}: payload does not decrypt with its data key ({what}, or wrong key)",
                              remediation=["The backup was changed after it was written: use another copy "
                                           "of it."]) from exc


def _kms_call(gateway: AwsGateway, operation: str, key_id: str, action: str, **params: Any) -> dict[str, Any]:
    """One KMS call; a refusal becomes an `EncryptionError` saying what to do about the key."""
    try:
        return gateway.call("kms", operation, **params)
    except Exception as exc:
        if not client_error_code(exc):  # no credentials, no network: not a key problem
            raise
        raise _kms_error(exc, key_id, action) from exc


def _kms_error(exc: Exception, key_id: str, action: str) -> EncryptionError:
    code = client_error_code(exc) or type(exc).__name__
    hints = {
        "DisabledException": f"Enable the KMS key {key_id} (aws kms enable-key --key-id {key_id}).",
        "KMSInvalidStateException": f"The KMS key {key_id} is pending deletion or unavailable; "
                                    "cancel the deletion or restore from a copy encrypted with another key.",
        "NotFoundException": f"Check the KMS key id/alias {key_id} and the region.",
        "AccessDeniedException": f"Allow kms:GenerateDataKey and kms:Decrypt on {key_id}.",
        "IncorrectKeyException": "The backup was encrypted with another KMS key.",
        "InvalidCiphertextException": "The wrapped data key does not belong to this KMS key or was altered.",
    }
    error = EncryptionError(f"Cannot {action} KMS key {key_id}: {code}",
                            remediation=[hints.get(code, "Check the KMS key and your permissions on it.")])
    error.code = code if code in hints else EncryptionError.code
    return error


_CHECKPOINT_CONTEXT = {"awsideman:purpose": "backup-checkpoints"}


class CheckpointSealer:
    """AES-256-GCM for one operation's checkpoints, with a data key that KMS wrapped."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, context.encode())

    def open(self, data: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(data[:12], data[12:], context.encode())
        except InvalidTag as exc:
            raise EncryptionError("A sealed checkpoint does not decrypt with its operation's key "
                                  "(altered journal)") from exc


def new_checkpoint_sealer(gateway: AwsGateway, key_id: str) -> tuple[dict[str, Any], CheckpointSealer]:
    """A fresh data key under ``key_id``: the wrapped form for the journal, and the sealer."""
    key = _kms_call(gateway, "GenerateDataKey", key_id, "create a data key with", KeyId=key_id,
                    KeySpec="AES_256", EncryptionContext=_CHECKPOINT_CONTEXT)
    sealing = {"kms_key_id": key.get("KeyId", key_id),
               "encrypted_data_key": base64.b64encode(key["CiphertextBlob"]).decode()}
    return sealing, CheckpointSealer(key["Plaintext"])


def open_checkpoint_sealer(gateway: AwsGateway, sealing: dict[str, Any]) -> CheckpointSealer:
    """The sealer of an unfinished operation, from the wrapped key the journal kept."""
    key_id = str(sealing.get("kms_key_id"))
    key = _kms_call(gateway, "Decrypt", key_id, "decrypt the checkpoint key with",
                    CiphertextBlob=base64.b64decode(sealing["encrypted_data_key"]), KeyId=key_id,
                    EncryptionContext=_CHECKPOINT_CONTEXT)
    return CheckpointSealer(key["Plaintext"])


def key_state(gateway: AwsGateway, key_id: str) -> str:
    """The key's state (``Enabled``, ``Disabled``, ``PendingDeletion``...): `doctor` checks it."""
    return str(_kms_call(gateway, "DescribeKey", key_id, "describe", KeyId=key_id)["KeyMetadata"]["KeyState"])
