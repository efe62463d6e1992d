"""The project's own exceptions: tiny classes under one base, messages say what to do next.

Each carries the exit code the CLI maps it to (DESIGN section 1). Every ``AwsidemanError`` of
every layer is defined here: ``analyze-error`` finds a class named in pasted text in this module.
"""

from __future__ import annotations

from typing import Any


class AwsidemanError(Exception):
    """Base of every error the tool raises on purpose."""

    exit_code = 1
    code = "AwsidemanError"

    def __init__(self, message: str, *, remediation: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = list(remediation or [])


class UsageError(AwsidemanError):
    """Bad flag, bad id or input the user can correct."""

    exit_code = 2
    code = "UsageError"


class ConfigError(UsageError):
    """Configuration file, key or value is invalid."""

    code = "ConfigError"


class InvalidIdError(UsageError):
    """A backup or operation id is malformed (or tries a path trick)."""

    code = "InvalidId"


class BackupNotFoundError(UsageError):
    """No backup with this id in the store."""

    code = "BackupNotFound"


class OperationNotFoundError(UsageError):
    """No operation with this id in the journal."""

    code = "OperationNotFound"


class CorruptBackupError(AwsidemanError):
    """A backup failed checksum, format or consistency checks."""

    code = "CorruptBackup"


class UnsupportedFormatError(CorruptBackupError):
    """A backup written in a format version this tool cannot read."""

    code = "UnsupportedFormatVersion"


class StorageError(AwsidemanError):
    """The backup store cannot be read or written."""

    code = "StorageError"


class EncryptionError(AwsidemanError):
    """Envelope encryption or decryption failed (wrong, disabled or missing key)."""

    code = "EncryptionError"


class InstanceNotFoundError(AwsidemanError):
    """No Identity Center instance could be found or chosen."""

    code = "InstanceNotFound"


class CredentialsError(AwsidemanError):
    """No usable AWS credentials: set-up the user must supply."""

    exit_code = 2
    code = "CredentialsError"


class CredentialsExpiredError(AwsidemanError):
    """The session's credentials expired mid-run and cannot be refreshed (environment keys):
    the run stopped before sending another request."""

    code = "CredentialsExpired"


class MissingRegionError(AwsidemanError):
    """No region is configured, so the Identity Center instance cannot be found."""

    exit_code = 2
    code = "MissingRegion"


class JournalError(AwsidemanError):
    """The operation journal is locked, corrupt or from a newer version."""

    code = "JournalError"


class OperationBusyError(JournalError):
    """The operation is being run by another live process."""

    code = "OperationBusy"


class StateBackendError(JournalError):
    """The shared state backend (DynamoDB / S3) could not be read or written, after retries."""

    code = "StateBackendUnavailable"


class LeaseLostError(JournalError):
    """This runner's lease on the shared state was taken over (it was paused or cut off too long).

    Its journal writes are refused from then on (fencing), so it must stop at once and leave the
    operation to whoever holds the lease now.
    """

    exit_code = 6
    code = "LeaseLost"


class UnjournaledChangeError(LeaseLostError):
    """A change was answered after this runner's lease ran out (it was paused between its last
    check and the send): it may have been made after another runner took over, and no journal
    write of this runner can record it any more."""

    code = "UnjournaledChange"


class LockHeldError(AwsidemanError):
    """Another restore or rollback holds the instance's lock."""

    exit_code = 6
    code = "LockHeld"


class AmbiguousWriteError(AwsidemanError):
    """A write whose response was lost: it may or may not have been applied (look it up)."""

    code = "AmbiguousWrite"

    def __init__(self, message: str, *, original: BaseException) -> None:
        super().__init__(message, remediation=["Look the resource up by its natural key before sending it again."])
        self.original = original


class AsyncRequestFailed(AwsidemanError):
    """An asynchronous request (assignment, provisioning) ended FAILED: an error like any other."""

    code = "AsyncRequestFailed"


class UnsupportedChangeError(AwsidemanError):
    """A change the service's API cannot make (e.g. clearing a permission set's description)."""

    code = "UnsupportedChange"


class IrreversibleChangeError(AwsidemanError):
    """A change lacks the recorded state its inverse needs; it cannot be undone automatically."""

    exit_code = 5
    code = "IrreversibleChange"


class UnresolvedError(AwsidemanError):
    """A change names a resource that does not exist in the target."""

    code = "ResourceNotFoundException"


class InternalError(AwsidemanError):
    """A bug in awsideman (not an AWS, storage or input problem)."""

    code = "InternalError"


class IncompleteBackupError(AwsidemanError):
    """A backup step failed after retries and partial backups were not allowed."""

    code = "IncompleteBackup"

    def __init__(self, message: str, *, remediation: list[str] | None = None,
                 root_cause: dict[str, object] | None = None) -> None:
        super().__init__(message, remediation=remediation)
        self.root_cause = dict(root_cause or {})  # the first failed step's category, severity and code


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM from cron, timeout or systemd)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


class Declined(Exception):  # noqa: N818 - not an error: the answer to a question
    """The operator answered no at a confirmation prompt (or closed it): nothing was changed.

    Not a failure (so not an ``AwsidemanError``): the command says so and exits 0 (128 + the
    signal's number when a Ctrl-C closed the prompt)."""

    def __init__(self, message: str, *, signum: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = 128 + signum if signum else 0


class OperationInterrupted(AwsidemanError):
    """An operation stopped by Ctrl-C or SIGTERM; its journal state allows a resume."""

    code = "Interrupted"

    def __init__(self, message: str, *, signum: int = 2, remediation: list[str] | None = None) -> None:
        super().__init__(message, remediation=remediation)
        self.exit_code = 128 + signum  # the shell's convention for death by signal


class OperationStateError(JournalError):
    """An operation's status does not allow what was asked (e.g. resuming a finished backup)."""

    def __init__(self, operation: Any, status: str) -> None:
        super().__init__(f"Operation {operation.id} is {status}; it cannot be continued.")
        self.operation = operation
        self.status = status
        self.exit_code = 2


class ChangeTransitionError(JournalError):
    """A journaled change was asked to move to a state its current state does not lead to."""


class PreflightDeniedError(AwsidemanError):
    """The preflight found writes (or the writes that would undo them) the caller may not make:
    nothing was changed."""

    code = "PreflightDenied"

    def __init__(self, message: str, *, remediation: list[str] | None = None,
                 denied: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, remediation=remediation)
        self.denied = list(denied or [])


class ClockSkewError(AwsidemanError):
    """This machine's clock is too far from the service's for signed requests and leases: nothing
    was changed."""

    code = "ClockSkew"


class UnknownAccountError(AwsidemanError):
    """An account a restore would assign a permission set in is not an active account of the
    organization: nothing was changed."""

    code = "UnknownAccount"
