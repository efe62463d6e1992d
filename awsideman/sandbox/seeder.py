"""Deterministic seeding of an IAM Identity Center instance through boto3.

``seed(session_or_clients, "small", seed=7)`` creates users, groups, memberships, permission
sets (with every kind of policy, boundary and tag) and account assignments, all drawn from
``random.Random(seed)``: the same seed gives the same data. It talks only through boto3
clients, so it works in-process under ``moto.mock_aws()`` (after
:func:`awsideman.sandbox.patches.apply`) and against a served emulator via ``AWS_ENDPOINT_URL``.

The returned :class:`SeedResult` records exactly what was sent, keyed by natural keys, so a
test can compare a backup with it field by field.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# (principal type, principal natural name, permission set name, account id)
AssignmentKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class SizeSpec:
    """How many of each resource a size creates."""

    users: int
    groups: int
    memberships: int
    permission_sets: int
    accounts: int
    assignments: int


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(users=5, groups=2, memberships=6, permission_sets=2, accounts=2, assignments=6),
    "small": SizeSpec(users=40, groups=8, memberships=80, permission_sets=6, accounts=4, assignments=40),
    "large": SizeSpec(
        users=2000, groups=200, memberships=4000, permission_sets=100, accounts=50, assignments=3000
    ),
    # An enterprise: seeded in-process (awsideman.sandbox.seed_backends), never call by call.
    "huge": SizeSpec(
        users=50_000, groups=5_000, memberships=200_000, permission_sets=500, accounts=500, assignments=100_000
    ),
}


@dataclass
class SeedResult:
    """Exactly what was created, by natural key. Ids are kept but not compared (they vary)."""

    size: str
    seed: int
    accounts: list[str]
    users: dict[str, dict[str, Any]]  # user name -> CreateUser arguments
    groups: dict[str, dict[str, Any]]  # display name -> {DisplayName, Description?}
    memberships: list[tuple[str, str]]  # sorted (group display name, user name)
    permission_sets: dict[str, dict[str, Any]]  # name -> every attribute set (see _permission_set)
    assignments: list[AssignmentKey]  # sorted
    instance_arn: str = field(default="", compare=False)
    identity_store_id: str = field(default="", compare=False)
    user_ids: dict[str, str] = field(default_factory=dict, compare=False)
    group_ids: dict[str, str] = field(default_factory=dict, compare=False)
    permission_set_arns: dict[str, str] = field(default_factory=dict, compare=False)

    def counts(self) -> dict[str, int]:
        """Number of each resource, named as in a backup manifest (which has no accounts)."""
        return {name: len(getattr(self, name)) for name in _COUNTED}


# The order `counts()` lists them in, which `awsideman sandbox up` and the demo print.
_COUNTED = ("users", "groups", "memberships", "permission_sets", "accounts", "assignments")


def seed(
    session_or_clients: Any,
    size: str,
    *,
    seed: int = 0,
    instance_arn: str | None = None,
    identity_store_id: str | None = None,
) -> SeedResult:
    """Create a deterministic data set of ``size`` (see ``SIZES``) and describe it, call by call.

    ``session_or_clients`` is a ``boto3.Session`` or a dict with "sso-admin" and
    "identitystore" clients. Assignment creation is asynchronous and not polled here (speed);
    without async fault rules the emulator finishes every request at once. With them, seed
    before setting `async_fail` rules: a request that ends FAILED leaves no assignment.
    """
    if size not in SIZES:
        raise ValueError(f"unknown seed size {size!r}; valid sizes: {', '.join(SIZES)}")
    spec = SIZES[size]
    sso, ids = _clients(session_or_clients)
    instance_arn, identity_store_id = _instance(sso, instance_arn, identity_store_id)
    plan = _plan(spec, random.Random(seed))
    result = SeedResult(
        size=size, seed=seed, instance_arn=instance_arn, identity_store_id=identity_store_id, **plan
    )
    _create_identities(ids, identity_store_id, result)
    _create_permission_sets(sso, instance_arn, result)
    _register_accounts(_organizations(session_or_clients), result.accounts)
    _create_assignments(sso, instance_arn, result)
    return result


def _organizations(session_or_clients: Any) -> Any:
    if isinstance(session_or_clients, dict):
        return session_or_clients.get("organizations")
    session = session_or_clients or boto3.Session()
    return session.client("organizations", config=Config(retries={"mode": "standard", "max_attempts": 10}))


def _register_accounts(org: Any, accounts: list[str]) -> None:
    """The accounts assignments target, in the organization (an emulator's gap fill keeps their ids)."""
    if org is None:
        return
    with contextlib.suppress(org.exceptions.AlreadyInOrganizationException):
        org.create_organization(FeatureSet="ALL")
    known = {a["Id"] for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]}
    for account in accounts:
        if account not in known:
            org.create_account(Email=f"{account}@example.com", AccountName=f"seeded-{account}",
                               Tags=[{"Key": "awsideman:account-id", "Value": account}])


def _clients(session_or_clients: Any) -> tuple[Any, Any]:
    if isinstance(session_or_clients, dict):
        sso = session_or_clients.get("sso-admin") or session_or_clients.get("sso_admin")
        ids = session_or_clients.get("identitystore")
        if sso is None or ids is None:
            raise ValueError("clients dict needs 'sso-admin' and 'identitystore' entries")
        return sso, ids
    session = session_or_clients or boto3.Session()
    # Seeding is a test fixture, not the app: let botocore ride out emulator-injected throttling.
    config = Config(retries={"mode": "standard", "max_attempts": 10})
    return session.client("sso-admin", config=config), session.client("identitystore", config=config)


def _instance(sso: Any, instance_arn: str | None, identity_store_id: str | None) -> tuple[str, str]:
    """Use the given instance or the first listed one (moto makes one per account/region)."""
    if instance_arn and identity_store_id:
        return instance_arn, identity_store_id
    instances = sso.list_instances().get("Instances", [])
    if not instances and hasattr(sso, "create_instance"):
        sso.create_instance(Name="awsideman-sandbox")
        instances = sso.list_instances().get("Instances", [])
    if instance_arn:
        instances = [i for i in instances if i["InstanceArn"] == instance_arn]
    if not instances:
        raise RuntimeError(f"no IAM Identity Center instance found (wanted {instance_arn or 'any'})")
    return instances[0]["InstanceArn"], identity_store_id or instances[0]["IdentityStoreId"]


def _plan(spec: SizeSpec, rng: random.Random) -> dict[str, Any]:
    """Draw the whole data set from ``rng`` before any call, so it never depends on responses."""
    accounts = _unique(rng, spec.accounts, lambda: f"{rng.randrange(10**11, 10**12):012d}")
    users = {u["UserName"]: u for u in (_user(rng, i) for i in range(spec.users))}
    groups = {g["DisplayName"]: g for g in (_group(rng, i) for i in range(spec.groups))}
    sets = {p["Name"]: p for p in (_permission_set(rng, i) for i in range(spec.permission_sets))}
    user_names, group_names, ps_names = list(users), list(groups), list(sets)
    memberships = _unique(rng, spec.memberships, lambda: (rng.choice(group_names), rng.choice(user_names)))

    def assignment() -> AssignmentKey:
        principal = ("USER", rng.choice(user_names)) if rng.random() < 0.4 else ("GROUP", rng.choice(group_names))
        return (*principal, rng.choice(ps_names), rng.choice(accounts))

    assignments = _unique(rng, spec.assignments, assignment)
    return {
        "accounts": accounts,
        "users": users,
        "groups": groups,
        "memberships": sorted(memberships),
        "permission_sets": sets,
        "assignments": sorted(assignments),
    }


def _unique(rng: random.Random, count: int, draw: Any) -> list[Any]:
    """``count`` distinct draws, in draw order (gives up loudly if the space is too small)."""
    seen: dict[Any, None] = {}
    attempts = 0
    while len(seen) < count:
        attempts += 1
        if attempts > count * 50 + 1000:
            raise ValueError(f"cannot draw {count} distinct values; the space is too small")
        seen[draw()] = None
    return list(seen)


def _create_identities(ids: Any, identity_store_id: str, result: SeedResult) -> None:
    for user_name, user in result.users.items():
        response = ids.create_user(IdentityStoreId=identity_store_id, **user)
        result.user_ids[user_name] = response["UserId"]
    for display_name, group in result.groups.items():
        response = ids.create_group(IdentityStoreId=identity_store_id, **group)
        result.group_ids[display_name] = response["GroupId"]
    for group_name, user_name in result.memberships:
        ids.create_group_membership(
            IdentityStoreId=identity_store_id,
            GroupId=result.group_ids[group_name],
            MemberId={"UserId": result.user_ids[user_name]},
        )


def _create_permission_sets(sso: Any, instance_arn: str, result: SeedResult) -> None:
    for name, spec in result.permission_sets.items():
        create = {k: spec[k] for k in ("Name", "Description", "SessionDuration", "RelayState") if k in spec}
        if spec["Tags"]:
            create["Tags"] = spec["Tags"]
        arn = sso.create_permission_set(InstanceArn=instance_arn, **create)["PermissionSet"][
            "PermissionSetArn"
        ]
        result.permission_set_arns[name] = arn
        target = {"InstanceArn": instance_arn, "PermissionSetArn": arn}
        if spec["InlinePolicy"]:
            sso.put_inline_policy_to_permission_set(InlinePolicy=spec["InlinePolicy"], **target)
        for policy_arn in spec["ManagedPolicyArns"]:
            sso.attach_managed_policy_to_permission_set(ManagedPolicyArn=policy_arn, **target)
        for reference in spec["CustomerManagedPolicyReferences"]:
            sso.attach_customer_managed_policy_reference_to_permission_set(
                CustomerManagedPolicyReference=reference, **target
            )
        if spec["PermissionsBoundary"]:
            sso.put_permissions_boundary_to_permission_set(
                PermissionsBoundary=spec["PermissionsBoundary"], **target
            )


def _create_assignments(sso: Any, instance_arn: str, result: SeedResult) -> None:
    for principal_type, principal_name, ps_name, account_id in result.assignments:
        ids = result.user_ids if principal_type == "USER" else result.group_ids
        request = {
            "InstanceArn": instance_arn,
            "TargetId": account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": result.permission_set_arns[ps_name],
            "PrincipalType": principal_type,
            "PrincipalId": ids[principal_name],
        }
        _until_admitted(functools.partial(sso.create_account_assignment, **request))


# Refusals that mean "earlier requests are still IN_PROGRESS": the limit of 15 outstanding
# requests (ThrottlingException) and one operation per permission set and account (Conflict).
_BUSY = ("ThrottlingException", "ConflictException")


def _until_admitted(call: Callable[[], Any], *, deadline_s: float = 300.0,
                    sleep: Callable[[float], None] = time.sleep) -> Any:
    """Repeat an asynchronous write while the service is busy with earlier ones."""
    delay, give_up = 0.01, time.monotonic() + deadline_s
    while True:
        try:
            return call()
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _BUSY or time.monotonic() > give_up:
                raise
        sleep(delay)
        delay = min(delay * 2, 0.5)


# ---- data drawn from the generator: everything below is pure and deterministic ----

GIVEN = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Edsger",
    "Frances",
    "Donald",
    "Hedy",
    "Tim",
    "Katherine",
    "Guido",
    "Sophie",
    "Bjarne",
    "Joan",
    "Niklaus",
]
FAMILY = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Dijkstra",
    "Allen",
    "Knuth",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "van Rossum",
]
TITLES = ["Engineer", "Senior Engineer", "Analyst", "Manager", "Director", "Auditor", "SRE"]
LOCALES = ["en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR"]
TIMEZONES = ["America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo", "America/Sao_Paulo"]
LANGUAGES = ["en", "en-GB", "de", "fr", "ja", "pt"]
USER_TYPES = ["Employee", "Contractor", "Intern", "Vendor"]
CITIES = [("Seattle", "WA", "US"), ("London", "England", "GB"), ("Berlin", "BE", "DE"), ("Tokyo", "13", "JP")]
TEAMS = ["platform", "data", "security", "finance", "payments", "mobile", "web", "ops", "ml", "support"]
ROLES = ["Admin", "ReadOnly", "Developer", "Billing", "Auditor", "Network", "Database", "Support"]
# AWS managed policies as real IAM ARNs: job-function policies keep their path.
MANAGED_POLICIES = [
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/SecurityAudit",
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess",
    "arn:aws:iam::aws:policy/AWSSupportAccess",
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    "arn:aws:iam::aws:policy/job-function/Billing",
    "arn:aws:iam::aws:policy/job-function/DatabaseAdministrator",
]
BOUNDARY_POLICIES = ["arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"]
POLICY_PATHS = ["/", "/teams/", "/org/platform/"]
SESSION_DURATIONS = ["PT1H", "PT2H", "PT4H", "PT8H", "PT12H"]
SERVICES = ["s3", "ec2", "logs", "cloudwatch", "dynamodb", "lambda", "sqs", "kms"]


def _user(rng: random.Random, i: int) -> dict[str, Any]:
    """CreateUser arguments (without IdentityStoreId); optional attributes vary."""
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    user_name = f"{given}.{family}.{i:04d}".lower().replace(" ", "")
    name: dict[str, str] = {"GivenName": given, "FamilyName": family, "Formatted": f"{given} {family}"}
    if rng.random() < 0.3:
        name["MiddleName"] = rng.choice(GIVEN)
    if rng.random() < 0.2:
        name["HonorificPrefix"] = rng.choice(["Dr.", "Ms.", "Mr.", "Prof."])
    if rng.random() < 0.1:
        name["HonorificSuffix"] = rng.choice(["PhD", "Jr.", "III"])
    # The API takes exactly one email, address and phone number ("Fixed number of 1 item").
    user: dict[str, Any] = {
        "UserName": user_name,
        "DisplayName": f"{given} {family}",
        "Name": name,
        "Emails": [{"Value": f"{user_name}@example.com", "Type": "work", "Primary": rng.random() < 0.9}],
        "Title": rng.choice(TITLES),
        "ProfileUrl": f"https://people.example.com/{user_name}",
        "Locale": rng.choice(LOCALES),
        "Timezone": rng.choice(TIMEZONES),
        "UserType": rng.choice(USER_TYPES),
        "PreferredLanguage": rng.choice(LANGUAGES),
    }
    if rng.random() < 0.7:
        user["NickName"] = given[:3] + str(i)
    if rng.random() < 0.8:
        phone = f"+1 206 555 {rng.randrange(10000):04d}"
        user["PhoneNumbers"] = [{"Value": phone, "Type": rng.choice(["work", "mobile"]), "Primary": True}]
    if rng.random() < 0.7:
        city, region, country = rng.choice(CITIES)
        street, postcode = f"{rng.randrange(1, 999)} Main Street", f"{rng.randrange(10000, 99999)}"
        user["Addresses"] = [
            {
                "StreetAddress": street,
                "Locality": city,
                "Region": region,
                "PostalCode": postcode,
                "Country": country,
                "Formatted": f"{street}, {city} {postcode}, {country}",
                "Type": "work",
                "Primary": True,
            }
        ]
    return user


def _group(rng: random.Random, i: int) -> dict[str, Any]:
    """CreateGroup arguments; a few groups have no description."""
    team = rng.choice(TEAMS)
    group: dict[str, Any] = {"DisplayName": f"{team}-{rng.choice(ROLES).lower()}-{i:03d}"}
    if rng.random() < 0.9:
        group["Description"] = f"{team.capitalize()} team, seeded group {i}"
    return group


def _permission_set(rng: random.Random, i: int) -> dict[str, Any]:
    """Every attribute of a permission set; absent optional fields are absent or empty."""
    role = rng.choice(ROLES)
    spec: dict[str, Any] = {"Name": f"{role}-{i:03d}", "SessionDuration": rng.choice(SESSION_DURATIONS)}
    if rng.random() < 0.85:
        spec["Description"] = f"{role} access, seeded permission set {i}"
    if rng.random() < 0.5:
        spec["RelayState"] = f"https://console.aws.amazon.com/{rng.choice(SERVICES)}/home"
    spec["InlinePolicy"] = _inline_policy(rng) if rng.random() < 0.6 else ""
    spec["ManagedPolicyArns"] = rng.sample(MANAGED_POLICIES, rng.randrange(0, 4))
    spec["CustomerManagedPolicyReferences"] = [
        {"Name": f"{role}Policy{n}", "Path": rng.choice(POLICY_PATHS)} for n in range(rng.randrange(0, 3))
    ]
    draw = rng.random()
    if draw < 0.25:
        spec["PermissionsBoundary"] = {
            "CustomerManagedPolicyReference": {"Name": f"{role}Boundary", "Path": rng.choice(POLICY_PATHS)}
        }
    elif draw < 0.5:
        spec["PermissionsBoundary"] = {"ManagedPolicyArn": rng.choice(BOUNDARY_POLICIES)}
    else:
        spec["PermissionsBoundary"] = None
    spec["Tags"] = [
        {"Key": key, "Value": rng.choice(TEAMS)}
        for key in rng.sample(["team", "owner", "env", "cost-center", "tier"], rng.randrange(0, 5))
    ]
    return spec


def _inline_policy(rng: random.Random) -> str:
    """A small valid IAM policy document, as the exact text sent."""
    statements = [
        {
            "Sid": f"Seed{n}",
            "Effect": rng.choice(["Allow", "Deny"]),
            "Action": sorted(rng.sample([f"{s}:Get*" for s in SERVICES], 2)),
            "Resource": "*",
        }
        for n in range(rng.randrange(1, 3))
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))
