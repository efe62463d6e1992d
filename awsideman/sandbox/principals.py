"""Restricted IAM principals in a sandbox: a user whose policy denies the actions a rehearsal names.

A restore's preflight simulates every write for the caller (``iam:SimulatePrincipalPolicy``);
rehearsing a denial needs a caller that lacks some actions. `create_principal` makes one: an
IAM user with an access key and one inline policy that allows everything (or only ``allow``)
and explicitly denies ``deny``. The sandbox's IAM answers the simulator from that policy; it
does not enforce it on the calls themselves (moto authorises nothing by default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

POLICY_NAME = "awsideman-sandbox-principal"
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_ACTION = re.compile(r"\*|[a-z0-9-]+:[A-Za-z0-9*?]+", re.IGNORECASE)


class PrincipalError(ValueError):
    """A principal that cannot be made as asked (bad name or action, name already taken)."""


class Principal(NamedTuple):
    """A sandbox user's credentials and ARN (dummy credentials of a local emulator)."""

    access_key_id: str
    secret_access_key: str
    arn: str

    def env(self) -> dict[str, str]:
        """The variables that make a process call the sandbox as this user."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


def policy_document(deny: Sequence[str], allow: Sequence[str] | None = None) -> str:
    """Allow ``allow`` (default: every action) on every resource, with an explicit Deny of ``deny``."""
    statements: list[dict[str, Any]] = [
        {"Sid": "Allowed", "Effect": "Allow", "Action": list(allow) if allow else "*", "Resource": "*"}]
    if deny:
        statements.append({"Sid": "Denied", "Effect": "Deny", "Action": list(deny), "Resource": "*"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def create_principal(iam: Any, name: str, deny: Sequence[str] = (), allow: Sequence[str] | None = None) -> Principal:
    """Create IAM user ``name`` with an access key and the policy of `policy_document`."""
    check(name, deny, allow)
    try:
        user = iam.create_user(UserName=name)["User"]
    except iam.exceptions.EntityAlreadyExistsException:
        raise PrincipalError(f"a user named {name!r} already exists in the sandbox; choose another name "
                             "(or empty it: awsideman sandbox reset)") from None
    iam.put_user_policy(UserName=name, PolicyName=POLICY_NAME, PolicyDocument=policy_document(deny, allow))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Principal(key["AccessKeyId"], key["SecretAccessKey"], user["Arn"])


def check(name: str, deny: Sequence[str] = (), allow: Sequence[str] | None = None) -> None:
    """Raise PrincipalError unless ``name`` is an IAM user name and every action an IAM action."""
    if not _USER_NAME.fullmatch(name):
        raise PrincipalError(f"{name!r} is not an IAM user name (1-64 letters, digits and +=,.@_-)")
    bad = [action for action in [*deny, *(allow or [])] if not _ACTION.fullmatch(action)]
    if bad:
        raise PrincipalError(f"not an IAM action: {', '.join(map(repr, bad))} "
                             "(expected service:Action, e.g. sso:CreateAccountAssignment; * and ? match any)")
