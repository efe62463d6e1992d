"""Seeding straight into the emulator's backends, in the emulator's own process.

``seed_backends("huge")`` draws the same data set as :func:`awsideman.sandbox.seeder.seed`
(same ``_plan``, same seed, same records) but writes it into moto's ``IdentityStoreBackend``,
``SSOAdminBackend``, ``OrganizationsBackend`` and the gap fills' state instead of sending one
API call per resource: 255,000 resources through HTTP take most of an hour, written here
seconds. The end state is what the API path leaves once every asynchronous request has
succeeded (tests/sandbox/test_seed_backends.py compares the two through list calls).

It writes only where the served emulator (``SandboxServer``) or ``mock_aws()`` reads: the
process's global moto backends, so it must run in that process.
"""

from __future__ import annotations

import random
from typing import Any

from awsideman.sandbox import patches
from awsideman.sandbox.seeder import SIZES, SeedResult, SizeSpec, _plan

DEFAULT_ACCOUNT = "123456789012"  # moto's account for the sandbox's dummy credentials
DEFAULT_REGION = "us-east-1"
# User attributes the API keeps beside moto's User tuple (gap fill); the seeder sets none of
# them today, so they are only copied if a future draw adds one.
_EXTRA = ("Website", "Birthdate", "Photos", "Roles")


def seed_backends(size: str, *, seed: int = 0, spec: SizeSpec | None = None,
                  account_id: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> SeedResult:
    """Write the data set ``size`` (or ``spec``, a scaled version for tests) into the backends."""
    if spec is None:
        if size not in SIZES:
            raise ValueError(f"unknown seed size {size!r}; valid sizes: {', '.join(SIZES)}")
        spec = SIZES[size]
    patches.apply()
    from moto.identitystore.models import identitystore_backends
    from moto.ssoadmin.models import ssoadmin_backends

    from awsideman.sandbox.gapfills._common import LOCK

    sso = ssoadmin_backends[account_id][region]
    ids = identitystore_backends[account_id][region]
    with LOCK:
        instance = sso.list_instances()[0]
        result = SeedResult(size=size, seed=seed, instance_arn=instance.instance_arn,
                            identity_store_id=instance.identity_store_id, **_plan(spec, random.Random(seed)))
        store = ids._IdentityStoreBackend__get_identity_store(instance.identity_store_id)  # noqa: SLF001
        _write_users(store, result)
        _write_groups(store, result)
        _write_memberships(store, result)
        _write_permission_sets(sso, result)
        _write_accounts(account_id, region, result.accounts)
        _write_assignments(sso, result)
    return result


def _uuid() -> str:
    from moto.moto_api._internal import mock_random

    return str(mock_random.uuid4())


def _write_users(store: Any, result: SeedResult) -> None:
    """moto's User tuples, as CreateUser stores them (an argument not sent is None)."""
    from moto.identitystore.models import Name, User

    from awsideman.sandbox.gapfills.identitystore_indexes import forget_user_names
    from awsideman.sandbox.gapfills.identitystore_models import _extras

    forget_user_names(store)  # written around create_user: its name index rebuilds on next use
    extras = _extras(store)
    for user_name, user in result.users.items():
        user_id = _uuid()
        store.users[user_id] = User(
            user_id, result.identity_store_id, user_name, Name.from_dict(user.get("Name")),
            user.get("DisplayName"), user.get("NickName"), user.get("ProfileUrl"), user.get("Emails"),
            user.get("Addresses"), user.get("PhoneNumbers"), user.get("UserType"), user.get("Title"),
            user.get("PreferredLanguage"), user.get("Locale"), user.get("Timezone"))
        kept = {k: user[k] for k in _EXTRA if user.get(k) is not None}
        if kept:
            extras[user_id] = kept
        result.user_ids[user_name] = user_id


def _write_groups(store: Any, result: SeedResult) -> None:
    from moto.identitystore.models import Group

    for display_name, group in result.groups.items():
        group_id = _uuid()
        store.groups[group_id] = Group(group_id, display_name, [], group.get("Description"),
                                       result.identity_store_id)
        result.group_ids[display_name] = group_id


def _write_memberships(store: Any, result: SeedResult) -> None:
    """Membership records plus the gap fill's (group, user) -> membership index."""
    from awsideman.sandbox.gapfills.identitystore_indexes import index_membership
    from awsideman.sandbox.gapfills.identitystore_models import _pairs

    pairs = _pairs(store)
    for group_name, user_name in result.memberships:
        group_id, user_id, membership_id = result.group_ids[group_name], result.user_ids[user_name], _uuid()
        membership = store.group_memberships[membership_id] = {
            "IdentityStoreId": result.identity_store_id, "MembershipId": membership_id,
            "GroupId": group_id, "MemberId": {"UserId": user_id}}
        pairs[(group_id, user_id)] = membership_id
        index_membership(store, membership)


def _write_permission_sets(sso: Any, result: SeedResult) -> None:
    """Through the backend's own methods: few enough (hundreds), and they keep every index."""
    instance_arn = result.instance_arn
    for name, spec in result.permission_sets.items():
        created = sso.create_permission_set(
            name=name, description=spec.get("Description"), instance_arn=instance_arn,
            session_duration=spec.get("SessionDuration"), relay_state=spec.get("RelayState"),
            tags=spec["Tags"] or None)
        arn = created["PermissionSetArn"]
        result.permission_set_arns[name] = arn
        target = {"instance_arn": instance_arn, "permission_set_arn": arn}
        if spec["InlinePolicy"]:
            sso.put_inline_policy_to_permission_set(inline_policy=spec["InlinePolicy"], **target)
        for policy_arn in spec["ManagedPolicyArns"]:
            sso.attach_managed_policy_to_permission_set(managed_policy_arn=policy_arn, **target)
        for reference in spec["CustomerManagedPolicyReferences"]:
            sso.attach_customer_managed_policy_reference_to_permission_set(
                customer_managed_policy_reference=reference, **target)
        if spec["PermissionsBoundary"]:
            sso.put_permissions_boundary_to_permission_set(permissions_boundary=spec["PermissionsBoundary"],
                                                           **target)


def _write_accounts(account_id: str, region: str, accounts: list[str]) -> None:
    """The organization and its member accounts, with the seeded ids (gap fill's id tag)."""
    from moto.organizations.models import organizations_backends

    from awsideman.sandbox.gapfills.organizations_accounts import ACCOUNT_ID_TAG

    org = organizations_backends[account_id]["aws"]
    if org.org is None:
        org.create_organization(region=region, FeatureSet="ALL")
    known = {a.id for a in org.accounts}
    for account in accounts:
        if account not in known:
            org.create_account(Email=f"{account}@example.com", AccountName=f"seeded-{account}",
                               Tags=[{"Key": ACCOUNT_ID_TAG, "Value": account}])


def _write_assignments(sso: Any, result: SeedResult) -> None:
    """Assignments as a SUCCEEDED CreateAccountAssignment leaves them: listed under every index,
    and the permission set provisioned (at its current version) to the account."""
    from moto.ssoadmin.models import AccountAssignment

    from awsideman.sandbox.gapfills.ssoadmin_state import state_of

    state = state_of(sso)
    for principal_type, principal_name, ps_name, account in result.assignments:
        ids = result.user_ids if principal_type == "USER" else result.group_ids
        ps_arn = result.permission_set_arns[ps_name]
        key = (result.instance_arn, account, ps_arn, principal_type, ids[principal_name])
        if key in state.assignments:
            continue
        assignment = AccountAssignment(key[0], account, "AWS_ACCOUNT", ps_arn, principal_type, key[4])
        state.add_assignment(key, assignment)
        sso.account_assignments.append(assignment)
        state.provision(ps_arn, account)
