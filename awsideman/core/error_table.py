"""The one table that says what every known error means and what to do about it.

``ErrorAnalyzer`` (``core/errors.py``) only looks things up here; to change how an error is
classified, change (or override) an entry here. Keys are:

- ``CODE_RULES``: AWS error codes (``Error.Code`` of a ``ClientError``, ``__type`` of a JSON error);
- ``REASON_RULES``: identitystore ``Reason`` values, which win over the code they come with;
- ``CONFLICT_MESSAGE_RULES``: sso-admin ``ConflictException`` has no ``Reason``; its message says
  whether it is transient (concurrent modification, a busy permission set) or permanent (already exists);
- ``DENIED_MESSAGE_RULES``: an access denial whose message says where the deny comes from (an SCP);
- ``STATUS_RULES``: HTTP status, used when the code is unknown;
- ``EXCEPTION_RULES``: exception class names (botocore ``BotoCoreError`` subclasses, builtins),
  matched along the class's MRO so subclasses inherit their parent's rule;
- ``ERRNO_RULES``: ``OSError.errno`` names;
- ``PROJECT_RULES``: awsideman's own exceptions (their message/remediation come first).

Remediation strings are templates filled by the analyser. Placeholders: ``{action}`` (the IAM
action, e.g. ``sso:ListAccountAssignments``), ``{operation}``, ``{service}``, ``{code}``,
``{profile}`` (`` --profile X`` with its leading space when a profile is configured, else
empty), ``{profile_name}``, ``{region}``, ``{path}``,
``{op_id}``. An unknown placeholder is left visible rather than failing.

Retryability lives in the rules (``recoverable``); the named code sets below are the source of
the rate-limiting and transient rows and are what the retry policy's docs refer to.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass, replace

# Categories and severities (the JSON contract in DESIGN section 1/7).
NETWORK = "network"
AUTHENTICATION = "authentication"
AUTHORIZATION = "authorization"
RATE_LIMITING = "rate_limiting"
RESOURCE_NOT_FOUND = "resource_not_found"
RESOURCE_CONFLICT = "resource_conflict"
VALIDATION = "validation"
STORAGE = "storage"
ENCRYPTION = "encryption"
CONFIGURATION = "configuration"
UNKNOWN = "unknown"
CATEGORIES = (
    NETWORK, AUTHENTICATION, AUTHORIZATION, RATE_LIMITING, RESOURCE_NOT_FOUND, RESOURCE_CONFLICT,
    VALIDATION, STORAGE, ENCRYPTION, CONFIGURATION, UNKNOWN,
)
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Rule:
    """How one kind of error is classified: category, severity, retryable, what to do."""

    category: str
    severity: str
    recoverable: bool
    remediation: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown error category {self.category!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown error severity {self.severity!r}")


# -- retryable codes (named so the retry docs, tests and config can refer to them) -------------
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown",
    "ProvisionedThroughputExceededException", "BandwidthLimitExceeded", "EC2ThrottledException",
    "PriorRequestNotComplete",
})
TRANSIENT_CODES = frozenset({
    "InternalServerException", "InternalServerError", "InternalFailure", "InternalError",
    "ServiceUnavailable", "ServiceUnavailableException", "ServiceFailure", "RequestTimeout",
    "RequestTimeoutException", "IDPCommunicationError", "KMSInternalException",
    "DependencyTimeoutException", "TransactionInProgressException", "TransactionConflictException",
})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})

# -- remediation building blocks ---------------------------------------------------------------
_RETRY_LATER = "Transient: awsideman retries it automatically; if it persists, re-run the command later."
_RESUME = (
    "Re-run the same command; `awsideman backup create --resume OP_ID` continues an interrupted backup, "
    "`awsideman rollback OP_ID` undoes what an interrupted restore applied."
)
_SSO_LOGIN = (
    "Refresh the credentials: `aws sso login{profile}` (SSO profiles) or export new keys / session token."
)
_CHECK_PROFILE = "Check which identity you use: `aws sts get-caller-identity{profile}`."
_GRANT = (
    "Grant `{action}` to the role or user you run awsideman as "
    "(the permission set or IAM policy behind {profile_name})."
)
_RATE = (
    "Lower the call rate: `rate_limit:` in the awsideman config (sso-admin shares ~20 calls/s "
    "across all its APIs; identitystore allows ~20 calls/s per API)."
)
_QUOTA = (
    "A service quota was reached ({code}): request a quota increase in the Service Quotas console "
    "(AWS IAM Identity Center / IAM), or remove unused permission sets, assignments or roles first."
)
_KMS = (
    "Check the KMS key: it must be enabled, in this region, and its key policy must allow "
    "kms:Decrypt / kms:GenerateDataKey / kms:Encrypt for the identity you run awsideman as."
)

_throttle = Rule(RATE_LIMITING, "low", True, (
    "The service throttled {operation}; awsideman backs off and retries automatically.", _RATE,
))
_transient = Rule(NETWORK, "medium", True, (_RETRY_LATER, _RESUME))
_expired = Rule(AUTHENTICATION, "high", False, (_SSO_LOGIN, _CHECK_PROFILE))
_bad_credentials = Rule(AUTHENTICATION, "high", False, (
    "The access key or token is not valid (wrong, deleted or for another partition).",
    _SSO_LOGIN, "Check AWS_PROFILE / --profile and that no stale AWS_ACCESS_KEY_ID / "
    "AWS_SESSION_TOKEN variables shadow the profile.",
))
_denied = Rule(AUTHORIZATION, "high", False, (_GRANT, _CHECK_PROFILE))
_not_found = Rule(RESOURCE_NOT_FOUND, "medium", False, (
    "The resource named in the message does not exist (anymore) in this instance/region: check "
    "--region, `instance_arn` / `identity_store_id` in the config, and that nobody deleted it.",
))
_validation = Rule(VALIDATION, "medium", False, (
    "The request was rejected as invalid: fix the value named in the message (for a restore, "
    "the backup may hold a value the service no longer accepts: `awsideman backup verify BACKUP_ID`).",
))
_quota = Rule(VALIDATION, "high", False, (_QUOTA,))
_kms = Rule(ENCRYPTION, "high", False, (_KMS,))
_kms_unavailable = Rule(ENCRYPTION, "high", True, (_RETRY_LATER, _KMS))

CODE_RULES: dict[str, Rule] = {
    **dict.fromkeys(THROTTLING_CODES, _throttle),
    **dict.fromkeys(TRANSIENT_CODES, _transient),
    # authentication: the credentials themselves are bad or expired
    **dict.fromkeys(("ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidToken"), _expired),
    **dict.fromkeys(("UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId",
                     "MissingAuthenticationToken", "IncompleteSignature"), _bad_credentials),
    "InvalidSignatureException": Rule(AUTHENTICATION, "high", False, (
        "The request signature did not match: check the secret key for this profile and that the "
        "system clock is correct (SigV4 allows 5 minutes of skew).", _SSO_LOGIN,
    )),
    "SignatureDoesNotMatch": Rule(AUTHENTICATION, "high", False, (
        "The request signature did not match: check the secret key and the system clock.", _SSO_LOGIN,
    )),
    "RequestTimeTooSkewed": Rule(CONFIGURATION, "high", False, (
        "The system clock is off by more than 5 minutes: sync it (NTP) and re-run.",
    )),
    # authorization: the credentials are fine but not allowed
    **dict.fromkeys(("AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation",
                     "Forbidden", "AllAccessDisabled"), _denied),
    "AccessDeniedForDependencyException": Rule(AUTHORIZATION, "high", False, (
        "Organizations denied a dependent call: run awsideman from the management account or the "
        "delegated administrator account of IAM Identity Center.", _GRANT,
    )),
    "AWSOrganizationsNotInUseException": Rule(CONFIGURATION, "high", False, (
        "This account is not part of an AWS Organization with IAM Identity Center enabled.",
    )),
    # not found
    **dict.fromkeys(("ResourceNotFoundException", "ResourceNotFound", "NotFoundException", "NoSuchEntity",
                     "NotFound", "404", "NotFoundError"), _not_found),
    "NoSuchKey": Rule(RESOURCE_NOT_FOUND, "medium", False, (
        "The object is missing from the backup store: `awsideman backup list --store URL` shows "
        "what is there; a half-written backup can be re-created.",
    )),
    "NoSuchBucket": Rule(CONFIGURATION, "high", False, (
        "The S3 bucket in --store does not exist (or is in another account): check the store URL.",
    )),
    # conflicts (ConflictException itself is refined by CONFLICT_MESSAGE_RULES / REASON_RULES)
    "ConflictException": Rule(RESOURCE_CONFLICT, "medium", False, (
        "Another change to the same resource conflicted: re-run the command; it skips what "
        "already exists.",
    )),
    "EntityAlreadyExists": Rule(RESOURCE_CONFLICT, "medium", False, (
        "The resource already exists: re-run with `--conflict skip` or `--conflict overwrite`.",
    )),
    "ResourceInUseException": Rule(RESOURCE_CONFLICT, "medium", False, (
        "The resource is still in use: remove what references it first (assignments, provisioning).",
    )),
    "OperationAbortedException": Rule(RESOURCE_CONFLICT, "medium", True, (_RETRY_LATER,)),
    # validation and quotas
    **dict.fromkeys(("ValidationException", "ValidationError", "InvalidParameterException", "InvalidParameterValue",
                     "InvalidRequestException", "InvalidInputException"), _validation),
    "MalformedPolicyDocument": Rule(VALIDATION, "medium", False, (
        "A policy in the backup is not valid JSON or IAM grammar: fix it in the live instance or "
        "restore without that permission set (`--resources`).",
    )),
    **dict.fromkeys(("ServiceQuotaExceededException", "LimitExceededException", "LimitExceeded"), _quota),
    # encryption (KMS, and S3 SSE-KMS errors)
    **dict.fromkeys(("DisabledException", "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException",
                     "KMSAccessDeniedException", "KMSInvalidSignatureException", "InvalidKeyUsageException",
                     "NotFoundExceptionKMS"), _kms),
    "InvalidCiphertextException": Rule(ENCRYPTION, "high", False, (
        "The data was not encrypted with this key (or is corrupt): check `encryption.kms_key_id` "
        "and the backup's manifest; `awsideman backup verify BACKUP_ID`.", _KMS,
    )),
    "IncorrectKeyException": Rule(ENCRYPTION, "high", False, (
        "The ciphertext belongs to a different KMS key: use the key named in the backup manifest.",
    )),
    "KeyUnavailableException": _kms_unavailable,
}

# identitystore puts a machine-readable Reason next to the code; it decides retryability.
REASON_RULES: dict[str, Rule] = {
    "CONCURRENT_MODIFICATION": Rule(RESOURCE_CONFLICT, "low", True, (
        "Another change to the same resource was in progress; awsideman retries automatically.",
    )),
    "UNIQUENESS_CONSTRAINT_VIOLATION": Rule(RESOURCE_CONFLICT, "medium", False, (
        "A user or group with the same unique name already exists: restore with `--conflict skip` "
        "or `--conflict overwrite`, or rename the existing one.",
    )),
    "KMS_THROTTLING": _throttle,
    **dict.fromkeys(("KMS_ACCESS_DENIED", "KMS_DISABLED", "KMS_INVALID_KEY_USAGE", "KMS_INVALID_STATE",
                     "KMS_KEY_NOT_FOUND"), _kms),
    "KMS_UNAVAILABLE": _kms_unavailable,
    # DynamoDB TransactWriteItems: the analyser takes the Reason from CancellationReasons.
    "TransactionConflict": Rule(RESOURCE_CONFLICT, "low", True, (
        "Another write to the same state item was in progress; awsideman retries automatically.",
    )),
    **dict.fromkeys(("ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"), _throttle),
}
# Any other KMS_* reason is an encryption problem too.
KMS_REASON_PREFIX = "KMS_"

# The 16th outstanding asynchronous sso-admin request is refused with "There are too many
# requests processing"; most regions send ThrottlingException, some ConflictException. Both mean
# "wait for one to finish": rate limiting, retried, never a conflict to report.
_ASYNC_CAP = Rule(RATE_LIMITING, "low", True, (
    "At most 15 CreateAccountAssignment / DeleteAccountAssignment / ProvisionPermissionSet requests "
    "may be outstanding per instance (a limit that cannot be raised); awsideman waits and retries.",
))

# A write to a permission set (its attributes, policies, boundary, a provisioning, its deletion)
# while an assignment or provisioning of it is in progress: "A conflicting operation is currently
# processing". The service did not apply it, so even a create may be sent again (retry.py).
_PERMISSION_SET_BUSY = Rule(RESOURCE_CONFLICT, "low", True, (
    "Identity Center runs one operation at a time on a permission set: while an assignment or a "
    "provisioning of it is in progress, a change to it or another provisioning is refused. awsideman "
    "serialises its own work per permission set and waits out the rest, retrying with backoff.",
    "If it persists, something else keeps that permission set busy (another admin, a pipeline, a "
    "long provisioning): look for requests IN_PROGRESS (`aws sso-admin "
    "list-permission-set-provisioning-status --instance-arn ARN --filter Status=IN_PROGRESS`, and "
    "`list-account-assignment-creation-status` / `-deletion-status`), wait for them to end, then run the "
    "command again (`awsideman restore --resume OP_ID` continues a stopped restore).",
))

# sso-admin ConflictException: (lower-case substring of the message, rule), first match wins.
CONFLICT_MESSAGE_RULES: tuple[tuple[str, Rule], ...] = (
    ("too many requests", _ASYNC_CAP),
    ("conflicting operation", _PERMISSION_SET_BUSY),
    ("currently processing", _PERMISSION_SET_BUSY),
    ("already exist", replace(CODE_RULES["EntityAlreadyExists"], severity="medium")),
    ("duplicate", CODE_RULES["EntityAlreadyExists"]),
    ("concurrent", REASON_RULES["CONCURRENT_MODIFICATION"]),
    ("in progress", REASON_RULES["CONCURRENT_MODIFICATION"]),
    ("currently being", REASON_RULES["CONCURRENT_MODIFICATION"]),
    ("try again", REASON_RULES["CONCURRENT_MODIFICATION"]),
)

# An organization's service control policy denies the call in the target account (or the
# account cannot be provisioned): not fixed by granting anything to the caller.
_SCP_DENIED = Rule(AUTHORIZATION, "high", False, (
    "A service control policy (SCP) of AWS Organizations denies {action} in the target account: "
    "granting it to the role you run awsideman as will not help. Ask the organization's administrators "
    "to exempt that role (or Identity Center's provisioning) from the SCP attached to the account or "
    "its OU, or leave that account out of the restore.",
    "Check that the account's Identity Center provisioning role (AWSServiceRoleForSSO) exists and is "
    "not blocked by the SCP: without it no permission set can be provisioned there.",
))

# Access denied, refined by the message: (lower-case substring, rule), first match wins.
DENIED_MESSAGE_RULES: tuple[tuple[str, Rule], ...] = (
    ("service control polic", _SCP_DENIED),
)

STATUS_RULES: dict[int, Rule] = {
    400: _validation,
    401: _bad_credentials,
    403: _denied,
    404: _not_found,
    409: CODE_RULES["ConflictException"],
    429: _throttle,
    **dict.fromkeys(TRANSIENT_STATUS, _transient),
}

_network_retry = Rule(NETWORK, "medium", True, (
    "Could not reach the AWS endpoint; awsideman retries automatically.",
    "Check the network, proxy (HTTPS_PROXY) and --region; with a local emulator check AWS_ENDPOINT_URL.",
    _RESUME,
))
# No credentials at all is an authentication problem (README: Troubleshooting), though, like a
# missing region, it is set-up the operator must supply: it exits 2 (``SETUP_CODES``).
_no_credentials = Rule(AUTHENTICATION, "high", False, (
    "No AWS credentials were found: set AWS_PROFILE or pass --profile (then `aws sso login{profile}` "
    "for SSO profiles), or export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.",
))
_sso_token = Rule(AUTHENTICATION, "high", False, (
    "The SSO session is missing or expired: run `aws sso login{profile}` and re-run the command.",
))

EXCEPTION_RULES: dict[str, Rule] = {
    # Ctrl-C / SIGTERM: not a bug; what to run next is the interrupted operation's own advice.
    "KeyboardInterrupt": Rule(UNKNOWN, "medium", False, ()),
    # botocore network errors and their builtin kin (subclasses inherit via the MRO walk)
    **dict.fromkeys(("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                     "HTTPClientError", "ConnectionError", "ConnectionResetError", "ConnectionAbortedError",
                     "ConnectionRefusedError", "BrokenPipeError", "TimeoutError"), _network_retry),
    "ProxyConnectionError": Rule(NETWORK, "high", True, (
        "Could not reach the proxy: check HTTPS_PROXY / HTTP_PROXY / NO_PROXY.", _RESUME,
    )),
    "SSLError": Rule(NETWORK, "high", False, (
        "TLS validation failed: check AWS_CA_BUNDLE / the corporate CA bundle and the system clock; "
        "a TLS-intercepting proxy needs its CA configured.",
    )),
    # botocore credential / configuration errors
    "NoCredentialsError": _no_credentials,
    "PartialCredentialsError": Rule(CONFIGURATION, "high", False, (
        "Only part of a credential set was found (see 'missing:'): set the missing variable or "
        "unset the others and use AWS_PROFILE / --profile instead.",
    )),
    "ProfileNotFound": Rule(CONFIGURATION, "high", False, (
        "The profile does not exist in ~/.aws/config: fix AWS_PROFILE / --profile "
        "(`aws configure list-profiles` lists them).",
    )),
    "NoRegionError": Rule(CONFIGURATION, "high", False, (
        "No region is set: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or `region` in "
        "the profile / awsideman config; use the region of the Identity Center instance.",
    )),
    "CredentialRetrievalError": Rule(AUTHENTICATION, "high", False, (
        "The credential provider failed (credential_process, role assumption, SSO): check the profile "
        "in ~/.aws/config.", _SSO_LOGIN,
    )),
    **dict.fromkeys(("TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError", "SSOError"), _sso_token),
    "InvalidConfigError": Rule(CONFIGURATION, "high", False, (
        "The AWS config (~/.aws/config or AWS_CONFIG_FILE) is invalid: fix the setting named in the message.",
    )),
    "ParamValidationError": Rule(VALIDATION, "medium", False, (
        "A request parameter was invalid before it was sent: fix the value in the message "
        "(a backup value may not fit the API; `awsideman backup verify BACKUP_ID`).",
    )),
}

# OSError errno names -> rule. Storage failures name the path via {path}.
ERRNO_RULES: dict[str, Rule] = {
    "ENOSPC": Rule(STORAGE, "critical", False, (
        "No space left on the device holding {path}: free disk space (or use another --store) and "
        "re-run; an interrupted backup continues with `awsideman backup create --resume OP_ID`.",
    )),
    "EDQUOT": Rule(STORAGE, "critical", False, ("Disk quota exceeded for {path}: free space or raise the quota.",)),
    "EACCES": Rule(STORAGE, "high", False, (
        "Permission denied on {path}: make it readable/writable by the user running awsideman "
        "(AWSIDEMAN_HOME and local stores are created 0700).",
    )),
    "EPERM": Rule(STORAGE, "high", False, (
        "Operation not permitted on {path}: check ownership and permissions.",
    )),
    "ENOENT": Rule(STORAGE, "medium", False, (
        "{path} does not exist: check the path / --store URL / AWSIDEMAN_HOME.",
    )),
    "EROFS": Rule(STORAGE, "high", False, (
        "{path} is on a read-only file system: point AWSIDEMAN_HOME / --store at a writable location.",
    )),
    "EISDIR": Rule(VALIDATION, "medium", False, ("{path} is a directory, a file was expected.",)),
    "ENOTDIR": Rule(VALIDATION, "medium", False, ("A part of {path} is not a directory.",)),
}
ERRNO_DEFAULT = Rule(STORAGE, "high", False, ("File system error on {path}: see the message.",))
ERRNO_NAMES = {getattr(_errno, name): name for name in ERRNO_RULES if hasattr(_errno, name)}

_rollback = "If a restore was interrupted: `awsideman rollback OP_ID` undoes what it applied."
PROJECT_RULES: dict[str, Rule] = {
    "ConfigError": Rule(CONFIGURATION, "high", False, ("Fix the config file or option named in the message.",)),
    "CredentialsError": Rule(AUTHENTICATION, "high", False, (
        "Set AWS_PROFILE / --profile (then `aws sso login{profile}` if SSO), or export AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY.",
    )),
    # Its own remediation names --region / AWS_REGION.
    "MissingRegionError": Rule(CONFIGURATION, "high", False, ()),
    "InvalidIdError": Rule(VALIDATION, "low", False, ()),
    # Each usage error says what to change; a generic pointer to --help says nothing more.
    "UsageError": Rule(VALIDATION, "low", False, ()),
    "BackupNotFoundError": Rule(RESOURCE_NOT_FOUND, "medium", False, (
        "`awsideman backup list --store URL` lists the backups in that store.",
    )),
    "OperationNotFoundError": Rule(RESOURCE_NOT_FOUND, "medium", False, (
        "`awsideman report list` lists recorded operations.",
    )),
    "UnsupportedFormatError": Rule(VALIDATION, "high", False, (
        "The backup was written by a newer awsideman: upgrade awsideman to read it.",
    )),
    "CorruptBackupError": Rule(VALIDATION, "high", False, (
        "The backup failed verification: do not restore it; use another backup "
        "(`awsideman backup list`) or create a new one.",
    )),
    "StorageError": Rule(STORAGE, "high", False, ("Check the --store location is reachable and writable.",)),
    "UnsupportedChangeError": Rule(VALIDATION, "medium", False, (
        "The API cannot make this change in place: make it in the console, or delete and recreate "
        "the resource (its assignments too) if it must match the backup exactly.",
    )),
    "EncryptionError": Rule(ENCRYPTION, "high", False, (_KMS,)),
    "InstanceNotFoundError": Rule(CONFIGURATION, "high", False, (
        "Set --region to the Identity Center region, or `instance_arn` and `identity_store_id` in the config.",
    )),
    "OperationBusyError": Rule(RESOURCE_CONFLICT, "medium", True, (
        "Run the same command again once that process has ended (or, with shared state, its lease has run out).",
    )),
    "JournalError": Rule(STORAGE, "high", False, (
        "Check the journal (`$AWSIDEMAN_HOME/state.db`, or the `state:` table when shared): another "
        "awsideman may hold it, or the disk is full/read-only.",
    )),
    "IncompleteBackupError": Rule(UNKNOWN, "high", False, (
        "Fix the cause above, then `awsideman backup create --resume {op_id}` continues where it stopped "
        "(or re-run with --allow-partial to keep a backup marked partial).",
    )),
    "OperationInterrupted": Rule(UNKNOWN, "medium", False, ()),  # its own remediation names the resume
    "AsyncRequestFailed": Rule(VALIDATION, "high", False, (
        "The service refused the change for the reason quoted (e.g. the account's IAM role quota, a "
        "missing customer managed policy in the account): fix that, then restore again (the plan makes only "
        "what is still missing) or undo it with `awsideman rollback {op_id}`.",
    )),
    "LockHeldError": Rule(RESOURCE_CONFLICT, "medium", False, ()),
    # Its own remediation holds the statement to add and the command that prints the whole policy.
    "PreflightDeniedError": Rule(AUTHORIZATION, "high", False, ()),
    "UnknownAccountError": Rule(RESOURCE_NOT_FOUND, "high", False, ()),
    # Its own remediation says how to refresh and the exact command that continues the run.
    "CredentialsExpiredError": Rule(AUTHENTICATION, "high", False, ()),
    "ClockSkewError": Rule(CONFIGURATION, "high", False, (
        "Synchronise this machine's clock (NTP, `timedatectl set-ntp true`), then run again.",
    )),
    "StateBackendError": Rule(STORAGE, "high", False, (
        "Fix what the message names (permissions on the table or bucket, the network, the table's existence).",
        "Every change is journaled before it is made, so nothing unrecorded was done. Once the state is "
        "reachable: `awsideman restore --resume {op_id}` finishes the restore, `awsideman rollback {op_id}` "
        "undoes it; both settle changes whose outcome was not recorded against live state.",
    )),
    "UnjournaledChangeError": Rule(RESOURCE_CONFLICT, "critical", False, (
        "Compare the instance with the backup (`awsideman diff BACKUP_ID`) and revert by hand what the "
        "message names, if it should not be there: the runner that took over does not know about it.",
        "See what the other runner did: `awsideman report show {op_id}`.",
    )),
    "LeaseLostError": Rule(RESOURCE_CONFLICT, "high", False, (
        "Another runner took this operation over after this one's lease expired; nothing more was written.",
        "See what it did: `awsideman report show {op_id}` (from any machine sharing the state backend).",
    )),
    "UnresolvedError": Rule(RESOURCE_NOT_FOUND, "medium", False, (
        "A change names a user, group or permission set that is not in the target instance: restore "
        "it too (widen --resources) or remove what refers to it.",
    )),
    "IrreversibleChangeError": Rule(VALIDATION, "high", False, (
        "This change cannot be undone automatically (its prior state was not recorded): revert it by "
        "hand, guided by `awsideman report list` and the operation's recorded changes.",
    )),
    "AmbiguousWriteError": Rule(NETWORK, "medium", False, ()),
    "InternalError": Rule(UNKNOWN, "critical", False, (
        "This is a bug in awsideman: re-run with --debug for the stack trace and report it.",
    )),  # its own remediation names the resume
    "AwsidemanError": Rule(UNKNOWN, "high", False, (_rollback,)),
}

# Errors of the operator's set-up (no credentials, no region) that exit 2 like a usage error
# whatever their category (README: Exit codes).
SETUP_CODES = frozenset({"NoCredentialsError", "NoRegionError", "PartialCredentialsError", "ProfileNotFound"})

UNKNOWN_RULE = Rule(UNKNOWN, "high", False, (
    "Re-run with --debug for the full stack trace; if it persists, report it with that output.",
))

# Message fragments recognised in pasted text when no code or class name is present.
# (lower-case substring, code or exception class name to analyse as).
MESSAGE_HINTS: tuple[tuple[str, str], ...] = (
    ("rate exceeded", "ThrottlingException"),
    ("throttl", "ThrottlingException"),
    ("too many requests", "TooManyRequestsException"),
    ("unable to locate credentials", "NoCredentialsError"),
    ("you must specify a region", "NoRegionError"),
    ("could not connect to the endpoint", "EndpointConnectionError"),
    ("connection reset", "ConnectionResetError"),
    ("timed out", "TimeoutError"),
    ("no space left on device", "ENOSPC"),
    ("read-only file system", "EROFS"),
    ("permission denied", "EACCES"),
    ("not authorized to perform", "AccessDeniedException"),
    ("access denied", "AccessDenied"),
    ("security token included in the request is expired", "ExpiredTokenException"),
    ("token has expired", "TokenRetrievalError"),
    ("sso session", "UnauthorizedSSOTokenError"),
    ("security token included in the request is invalid", "UnrecognizedClientException"),
    ("signature we calculated does not match", "InvalidSignatureException"),
    ("quota", "ServiceQuotaExceededException"),
    ("conflicting operation is currently processing", "ConflictException"),
    ("already exists", "EntityAlreadyExists"),
    ("does not exist", "ResourceNotFoundException"),
    ("not found", "ResourceNotFoundException"),
    ("internal server error", "InternalServerException"),
    ("service unavailable", "ServiceUnavailable"),
)

# IAM action prefix per boto3 service name (sso-admin's IAM prefix is `sso`).
SERVICE_PREFIXES: dict[str, str] = {
    "sso-admin": "sso", "sso": "sso", "identitystore": "identitystore", "s3": "s3", "kms": "kms",
    "sts": "sts", "organizations": "organizations", "iam": "iam",
}
# Operations whose IAM action differs from the operation name.
ACTION_OVERRIDES: dict[str, str] = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:CopyObject": "s3:PutObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
}
_IDENTITYSTORE_OPS = frozenset({
    "ListUsers", "ListGroups", "ListGroupMemberships", "ListGroupMembershipsForMember", "CreateUser",
    "CreateGroup", "CreateGroupMembership", "DeleteUser", "DeleteGroup", "DeleteGroupMembership",
    "UpdateUser", "UpdateGroup", "DescribeUser", "DescribeGroup", "DescribeGroupMembership",
    "GetUserId", "GetGroupId", "GetGroupMembershipId", "IsMemberInGroups",
})
_S3_OPS = frozenset({
    "GetObject", "PutObject", "HeadObject", "DeleteObject", "DeleteObjects", "ListObjectsV2",
    "ListObjects", "HeadBucket", "CopyObject", "CreateMultipartUpload", "UploadPart",
    "CompleteMultipartUpload",
})
_KMS_OPS = frozenset({"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "DescribeKey"})
_STS_OPS = frozenset({"GetCallerIdentity", "AssumeRole", "GetSessionToken"})


def service_for_operation(operation: str) -> str | None:
    """Best guess of the boto3 service for a bare operation name (the message may not say)."""
    if operation in _IDENTITYSTORE_OPS:
        return "identitystore"
    if operation in _S3_OPS:
        return "s3"
    if operation in _KMS_OPS:
        return "kms"
    if operation in _STS_OPS:
        return "sts"
    if operation.startswith(("ListAccounts", "DescribeOrganization", "ListRoots")) and "PermissionSet" not in operation:
        return "organizations"
    return "sso-admin" if operation else None
