"""IAM's policy simulator in the sandbox (gapfills/iam_simulate.py), and who the caller is, through boto3."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from awsideman.sandbox import principals

ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
PS_ARN = "arn:aws:sso:::permissionSet/ssoins-1/ps-1"


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _user(iam, name: str, *statements: dict) -> str:
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-inline", PolicyDocument=_doc(*statements))
    return arn


def _decisions(iam, arn: str, actions: list[str], resources: list[str] | None = None) -> dict[tuple[str, str], str]:
    extra = {"ResourceArns": resources} if resources else {}
    found = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, **extra)
    assert found["IsTruncated"] is False
    return {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in found["EvaluationResults"]}


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_an_allowed_action_names_the_statement_that_allowed_it(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "ops", ALL)
    found = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sso:CreateAccountAssignment"])
    assert found["EvaluationResults"] == [{
        "EvalActionName": "sso:CreateAccountAssignment", "EvalResourceName": "*", "EvalDecision": "allowed",
        "MatchedStatements": [{"SourcePolicyId": "ops-inline", "SourcePolicyType": "user"}],
        "MissingContextValues": [],
    }]
    assert found["IsTruncated"] is False


def test_an_explicit_deny_wins_over_an_allow_in_another_policy(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "ops", {"Effect": "Deny", "Action": ["sso:CreateAccountAssignment"], "Resource": "*"})
    policy = iam.create_policy(PolicyName="everything", PolicyDocument=_doc(ALL))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="ops", PolicyArn=policy)
    found = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[
        "sso:CreateAccountAssignment", "sso:DeleteAccountAssignment"])["EvaluationResults"]
    assert [(r["EvalDecision"], r["MatchedStatements"]) for r in found] == [
        ("explicitDeny", [{"SourcePolicyId": "ops-inline", "SourcePolicyType": "user"}]),
        ("allowed", [{"SourcePolicyId": "everything", "SourcePolicyType": "user-managed"}]),
    ]


def test_an_action_no_statement_allows_is_an_implicit_deny(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "reader", {"Effect": "Allow", "Action": ["sso:List*", "sso:Describe*"], "Resource": "*"})
    found = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sso:CreatePermissionSet"])
    assert [(r["EvalDecision"], r["MatchedStatements"]) for r in found["EvaluationResults"]] == [("implicitDeny", [])]
    assert _decisions(iam, _user(iam, "nobody"), ["sso:ListInstances"]) == {("sso:ListInstances", "*"): "implicitDeny"}


def test_action_wildcards_match_whatever_the_case(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "reader", {"Effect": "Allow", "Action": "SSO:list*", "Resource": "*"})
    assert _decisions(iam, arn, ["sso:ListInstances", "sso:listpermissionsets", "identitystore:ListUsers"]) == {
        ("sso:ListInstances", "*"): "allowed", ("sso:listpermissionsets", "*"): "allowed",
        ("identitystore:ListUsers", "*"): "implicitDeny"}


def test_not_action_allows_or_denies_everything_else(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "no-iam", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert _decisions(iam, arn, ["sso:CreateAccountAssignment", "iam:CreateRole"]) == {
        ("sso:CreateAccountAssignment", "*"): "allowed", ("iam:CreateRole", "*"): "implicitDeny"}
    arn = _user(iam, "sso-only", ALL, {"Effect": "Deny", "NotAction": ["sso:*", "identitystore:*"], "Resource": "*"})
    assert _decisions(iam, arn, ["sso:CreateAccountAssignment", "iam:CreateRole"]) == {
        ("sso:CreateAccountAssignment", "*"): "allowed", ("iam:CreateRole", "*"): "explicitDeny"}


def test_resource_wildcards_and_not_resource(sandbox):
    iam = sandbox.client("iam")
    other = "arn:aws:sso:::permissionSet/ssoins-2/ps-9"
    arn = _user(iam, "one-instance", {"Effect": "Allow", "Action": "sso:*",
                                      "Resource": ["arn:aws:sso:::permissionSet/ssoins-1/*"]})
    assert _decisions(iam, arn, ["sso:UpdatePermissionSet"], [PS_ARN, other]) == {
        ("sso:UpdatePermissionSet", PS_ARN): "allowed", ("sso:UpdatePermissionSet", other): "implicitDeny"}
    arn = _user(iam, "fenced", ALL, {"Effect": "Deny", "Action": "sso:*",
                                     "NotResource": "arn:aws:sso:::permissionSet/ssoins-1/*"})
    assert _decisions(iam, arn, ["sso:UpdatePermissionSet"], [PS_ARN, other]) == {
        ("sso:UpdatePermissionSet", PS_ARN): "allowed", ("sso:UpdatePermissionSet", other): "explicitDeny"}


def test_a_users_groups_count_with_their_inline_and_attached_policies(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "member")
    iam.create_group(GroupName="admins")
    iam.add_user_to_group(GroupName="admins", UserName="member")
    iam.put_group_policy(GroupName="admins", PolicyName="admins-sso",
                         PolicyDocument=_doc({"Effect": "Allow", "Action": "sso:*", "Resource": "*"}))
    policy = iam.create_policy(PolicyName="no-deletes", PolicyDocument=_doc(
        {"Effect": "Deny", "Action": "sso:Delete*", "Resource": "*"}))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="admins", PolicyArn=policy)
    found = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[
        "sso:CreateAccountAssignment", "sso:DeleteAccountAssignment", "identitystore:CreateUser"])
    assert [(r["EvalDecision"], r["MatchedStatements"]) for r in found["EvaluationResults"]] == [
        ("allowed", [{"SourcePolicyId": "admins-sso", "SourcePolicyType": "group"}]),
        ("explicitDeny", [{"SourcePolicyId": "no-deletes", "SourcePolicyType": "user-managed"}]),
        ("implicitDeny", []),
    ]
    group = iam.get_group(GroupName="admins")["Group"]["Arn"]
    assert _decisions(iam, group, ["sso:ListInstances"]) == {("sso:ListInstances", "*"): "allowed"}


def test_a_role_is_simulated_from_its_inline_and_attached_policies(sandbox):
    iam = sandbox.client("iam")
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                  "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="restorer", Path="/ops/", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="restorer", PolicyName="sso-writes",
                        PolicyDocument=_doc({"Effect": "Allow", "Action": "sso:*", "Resource": "*"}))
    policy = iam.create_policy(PolicyName="store-reads", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "identitystore:*", "Resource": "*"}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="restorer", PolicyArn=policy)
    assert role == "arn:aws:iam::123456789012:role/ops/restorer"
    assert _decisions(iam, role, ["sso:CreateAccountAssignment", "identitystore:CreateUser", "iam:CreateRole"]) == {
        ("sso:CreateAccountAssignment", "*"): "allowed", ("identitystore:CreateUser", "*"): "allowed",
        ("iam:CreateRole", "*"): "implicitDeny"}


def test_an_unknown_principal_is_no_such_entity_and_an_assumed_role_is_invalid_input(sandbox):
    iam = sandbox.client("iam")
    iam.create_user(UserName="ops")
    for arn in ("arn:aws:iam::123456789012:user/ghost", "arn:aws:iam::123456789012:role/ghost",
                "arn:aws:iam::123456789012:user/other-path/ops", "arn:aws:iam::999999999999:user/ops"):
        with pytest.raises(ClientError) as caught:
            iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sso:ListInstances"])
        assert _code(caught) == "NoSuchEntity", arn
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:sts::123456789012:assumed-role/r/s",
                                      ActionNames=["sso:ListInstances"])
    assert _code(caught) == "InvalidInput"


def test_a_conditional_statement_is_left_out_and_its_keys_reported_missing(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "mfa", {"Effect": "Allow", "Action": "sso:*", "Resource": "*",
                             "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})
    result = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sso:ListInstances",
                                                                             "iam:ListUsers"])["EvaluationResults"]
    assert [(r["EvalDecision"], r["MissingContextValues"]) for r in result] == [
        ("implicitDeny", ["aws:MultiFactorAuthPresent"]), ("implicitDeny", [])]


def test_results_are_paged_by_max_items_and_marker(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "ops", ALL)
    actions = [f"sso:Action{n}" for n in range(5)]
    first = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 2
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=arn, ActionNames=actions, ResourceArns=["*", PS_ARN], PaginationConfig={"PageSize": 3})
    seen = [(r["EvalActionName"], r["EvalResourceName"]) for page in pages for r in page["EvaluationResults"]]
    assert seen == [(a, r) for a in actions for r in ("*", PS_ARN)]
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, Marker="not-ours")
    assert _code(caught) == "InvalidInput"


def test_policy_input_list_adds_to_the_principal_and_custom_policy_stands_alone(sandbox):
    iam = sandbox.client("iam")
    arn = _user(iam, "ops", {"Effect": "Allow", "Action": "sso:*", "Resource": "*"})
    deny = _doc({"Effect": "Deny", "Action": "sso:DeleteAccountAssignment", "Resource": "*"})
    found = iam.simulate_principal_policy(PolicySourceArn=arn, PolicyInputList=[deny],
                                          ActionNames=["sso:DeleteAccountAssignment"])["EvaluationResults"][0]
    assert (found["EvalDecision"], found["MatchedStatements"]) == (
        "explicitDeny", [{"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none"}])
    custom = iam.simulate_custom_policy(PolicyInputList=[_doc(ALL), deny], ActionNames=[
        "sso:DeleteAccountAssignment", "sso:ListInstances"])["EvaluationResults"]
    assert [r["EvalDecision"] for r in custom] == ["explicitDeny", "allowed"]


def test_caller_identity_is_the_user_of_the_key_or_the_assumed_role(sandbox):
    iam = sandbox.client("iam")
    made = principals.create_principal(iam, "ops", deny=["sso:CreateAccountAssignment"])
    as_user = boto3.Session(aws_access_key_id=made.access_key_id,
                                        aws_secret_access_key=made.secret_access_key, region_name=sandbox.region)
    assert as_user.client("sts").get_caller_identity()["Arn"] == made.arn == "arn:aws:iam::123456789012:user/ops"
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": made.arn}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="restorer", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    keys = as_user.client("sts").assume_role(RoleArn=role, RoleSessionName="rehearsal")["Credentials"]
    as_role = boto3.Session(aws_access_key_id=keys["AccessKeyId"],
                                        aws_secret_access_key=keys["SecretAccessKey"],
                                        aws_session_token=keys["SessionToken"], region_name=sandbox.region)
    assert as_role.client("sts").get_caller_identity()["Arn"] == \
        "arn:aws:sts::123456789012:assumed-role/restorer/rehearsal"
    assert _decisions(as_user.client("iam"), made.arn, ["sso:CreateAccountAssignment", "sso:ListInstances"]) == {
        ("sso:CreateAccountAssignment", "*"): "explicitDeny", ("sso:ListInstances", "*"): "allowed"}


def test_create_principal_refuses_bad_names_and_actions_and_a_taken_name(sandbox):
    iam = sandbox.client("iam")
    principals.create_principal(iam, "ops")
    for name, deny in (("ops", []), ("no spaces", []), ("ok", ["CreateUser"]), ("ok", ["sso:Create User"])):
        with pytest.raises(principals.PrincipalError):
            principals.create_principal(iam, name, deny=deny)
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["ops"]


def test_the_simulator_answers_over_http_like_in_process(served_sandbox):
    iam = served_sandbox.client("iam")
    arn = _user(iam, "ops", ALL, {"Effect": "Deny", "Action": "sso:Create*", "Resource": PS_ARN})
    assert _decisions(iam, arn, ["sso:CreateAccountAssignment"], ["*", PS_ARN]) == {
        ("sso:CreateAccountAssignment", "*"): "allowed", ("sso:CreateAccountAssignment", PS_ARN): "explicitDeny"}
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn=arn + "-gone", ActionNames=["sso:ListInstances"])
    assert _code(caught) == "NoSuchEntity"
    assert served_sandbox.counters()["iam:SimulatePrincipalPolicy"] == 2


def test_a_fault_rule_can_deny_the_simulator_itself(sandbox):
    """What a preflight meets when the caller may not call iam:SimulatePrincipalPolicy at all."""
    iam = sandbox.client("iam")
    arn = _user(iam, "ops", ALL)
    sandbox.set_faults({"rules": [{"operation": "iam:SimulatePrincipalPolicy", "fail_after": 0}]})
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sso:ListInstances"])
    assert _code(caught) == "AccessDenied"
