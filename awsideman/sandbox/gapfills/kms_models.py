"""KMS gap fills: disabled keys refuse cryptographic use; a wrong KeyId is IncorrectKeyException.

moto 5.2.5 encrypts and decrypts with disabled keys and answers a KeyId mismatch with
AccessDeniedException; real KMS says DisabledException / KMSInvalidStateException and
IncorrectKeyException, which is what backup encryption must be tested against. moto's
EnableKey/DisableKey also fail (HTTP 500) on a key ARN, which KMS accepts.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kms import models
from moto.kms.utils import decrypt as _raw_decrypt


class _KmsError(JsonRESTError):
    code = 400

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type, message)


def _usable(backend: Any, key_id: str) -> None:
    key = backend.keys[backend.any_id_to_key_id(key_id)]
    if key.key_state == "PendingDeletion":
        raise _KmsError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    if not key.enabled or key.key_state == "Disabled":
        raise _KmsError("DisabledException", f"{key.arn} is disabled.")


def install_models() -> None:
    backend_cls = models.KmsBackend
    original_encrypt = backend_cls.encrypt

    def encrypt(self: Any, key_id: str, plaintext: bytes, encryption_context: dict[str, str]) -> Any:
        _usable(self, key_id)
        return original_encrypt(self, key_id, plaintext, encryption_context)

    def decrypt(self: Any, ciphertext_blob: bytes, encryption_context: dict[str, str],
                key_id: str | None = None) -> tuple[bytes, str]:
        plaintext, actual_key_id = _raw_decrypt(master_keys=self.keys, ciphertext_blob=ciphertext_blob,
                                                encryption_context=encryption_context)
        if key_id is not None and self.any_id_to_key_id(key_id) != actual_key_id:
            raise _KmsError("IncorrectKeyException",
                            "The key ID in the request does not identify a CMK that can perform this operation.")
        _usable(self, actual_key_id)
        return plaintext, self.keys[actual_key_id].arn

    backend_cls.encrypt = encrypt  # generate_data_key encrypts through this too
    backend_cls.decrypt = decrypt
    for name in ("enable_key", "disable_key"):  # moto takes only bare key ids; KMS takes ARNs too
        setattr(backend_cls, name, _resolving(getattr(backend_cls, name)))


def _resolving(method: Any) -> Any:
    def wrapper(self: Any, key_id: str) -> Any:
        return method(self, self.any_id_to_key_id(key_id))

    return wrapper
