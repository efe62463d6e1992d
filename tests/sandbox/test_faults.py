"""Fault rules: parsing and validation, the decision function, and every rule through boto3 in both modes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.handlers import BUILTIN_HANDLERS

from awsideman.sandbox import inprocess
from awsideman.sandbox.fault_rules import FaultRules, FaultRulesError, OperationRule, Quota
from awsideman.sandbox.injector import FaultInjector

NO_RETRY = Config(retries={"total_max_attempts": 1})
STORE = "d-1234567890"


def outcome(call) -> str:
    """'ok', the error code, or 'reset' for a transport failure."""
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    except ConnectionClosedError:
        return "reset"
    return "ok"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- parsing -------------------------------------------------------------------------------
def test_full_rule_file_parses(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("""
seed: 7
latency_ms: 5
quotas:
  sso-admin: {rate: 10, burst: 15}
  identitystore: {rate: 5}
rules:
  - operation: sso-admin:ListAccountAssignments
    throttle: 0.1
    server_error: 0.05
    reset: 0.01
    latency_ms: 20
  - operation: ListPermissionSets
    fail_after: 3
    error: AccessDeniedException
  - operation: "identitystore:*"
  - operation: "*"
""")
    rules = FaultRules.from_file(path)
    assert rules.seed == 7 and rules.latency_ms == 5
    assert rules.quotas == {"sso-admin": Quota(10, 15, "shared"), "identitystore": Quota(5, 5, "per-operation")}
    assert rules.rules[0] == OperationRule(
        "sso-admin:ListAccountAssignments", throttle=0.1, server_error=0.05, reset=0.01, latency_ms=20)
    assert rules.rules[1].fail_after == 3
    assert FaultRules.from_dict(rules.to_dict()) == rules


def test_json_file_and_named_quotas(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text('{"quotas": "real", "rules": []}')
    assert FaultRules.from_file(path).quotas["identitystore"].scope == "per-operation"
    assert FaultRules.from_dict({"quotas": "off"}).quotas == {}
    assert FaultRules.from_file(_write(tmp_path, "empty.yaml", "")) == FaultRules()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("rules:\n  - {operation: A}\n  - {operation: B}\n  - {throttle: 1.5}\n",
     "faults.yaml: rules[2].throttle: must be a number between 0 and 1"),
    ("rules:\n  - {server_error: -0.1}\n", "faults.yaml: rules[0].server_error: must be a number between 0 and 1"),
    ("rules:\n  - {reset: yes}\n", "faults.yaml: rules[0].reset: must be a number between 0 and 1"),
    ("rules:\n  - {throttle: 0.6, server_error: 0.6}\n",
     "faults.yaml: rules[0]: throttle + server_error + reset + lost_response must not exceed 1"),
    ("rules:\n  - {operation: 'List*'}\n", "faults.yaml: rules[0].operation: unknown operation pattern 'List*'"),
    ("rules:\n  - {operation: 'sso admin:X'}\n", "faults.yaml: rules[0].operation: unknown operation pattern"),
    ("rules:\n  - {throtle: 0.1}\n", "faults.yaml: rules[0].throtle: unknown key"),
    ("sede: 3\n", "faults.yaml: sede: unknown key"),
    ("seed: abc\n", "faults.yaml: seed: must be an integer"),
    ("latency_ms: fast\n", "faults.yaml: latency_ms: must be a number >= 0"),
    ("rules: {operation: A}\n", "faults.yaml: rules: must be a list"),
    ("rules:\n  - {fail_after: -1}\n", "faults.yaml: rules[0].fail_after: must be an integer >= 0"),
    ("rules:\n  - {fail_after: 2, error: Boom}\n", "faults.yaml: rules[0].error: must be one of"),
    ("rules:\n  - {error: AccessDeniedException}\n", "faults.yaml: rules[0].error: needs fail_after"),
    ("quotas: lots\n", "faults.yaml: quotas: must be 'real', 'off' or a mapping"),
    ("quotas:\n  sso-admin: {rate: 0}\n", "faults.yaml: quotas.sso-admin.rate: must be a number > 0"),
    ("quotas:\n  sso-admin: {rate: 5, scope: global}\n", "faults.yaml: quotas.sso-admin.scope: must be one of"),
    ("quotas:\n  sso-admin: {burst: 5}\n", "faults.yaml: quotas.sso-admin.rate: is required"),
    ("- just a list\n", "faults.yaml: must be a mapping"),
    ("rules: [\n", "faults.yaml: not valid YAML/JSON"),
])
def test_bad_rule_files_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FaultRulesError) as caught:
        FaultRules.from_file(_write(tmp_path, "faults.yaml", text))
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


def test_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(FaultRulesError, match="absent.yaml: cannot read fault rules"):
        FaultRules.from_file(tmp_path / "absent.yaml")


# -- the decision function (injected clock and sleep: nothing really waits) -----------------
def test_patterns_first_match_wins() -> None:
    injector = FaultInjector({"rules": [
        {"operation": "identitystore:ListUsers", "throttle": 1},
        {"operation": "ListUsers", "server_error": 1},
        {"operation": "kms:*", "reset": 1},
    ]})
    assert injector.decide("identitystore", "ListUsers").kind == "throttle"
    assert injector.decide("other", "ListUsers").kind == "server_error"
    assert injector.decide("kms", "ListKeys").kind == "reset"
    assert injector.decide("sso-admin", "ListInstances") is None


def test_latency_is_global_plus_rule() -> None:
    slept: list[float] = []
    injector = FaultInjector({"latency_ms": 5, "rules": [{"operation": "ListUsers", "latency_ms": 20}]},
                             sleep=slept.append)
    injector.decide("identitystore", "ListUsers")
    injector.decide("identitystore", "ListGroups")
    assert slept == [0.025, 0.005]


def test_real_quotas_shared_for_sso_admin_per_api_for_identitystore() -> None:
    clock = FakeClock()
    injector = FaultInjector({"quotas": "real"}, clock=clock)
    ops = ["ListInstances", "ListPermissionSets"]
    assert [injector.decide("sso-admin", ops[i % 2]) for i in range(20)] == [None] * 20
    throttled = injector.decide("sso-admin", "ListAccountAssignments")
    assert throttled.code == "ThrottlingException" and throttled.retry_after == 1
    for op in ("ListUsers", "ListGroups"):
        assert [injector.decide("identitystore", op) for _ in range(20)] == [None] * 20
        assert injector.decide("identitystore", op).kind == "throttle"
    clock.now += 0.5  # half a second refills 10 tokens at 20/s
    assert [injector.decide("sso-admin", "ListInstances") for _ in range(10)] == [None] * 10
    assert injector.decide("sso-admin", "ListInstances").kind == "throttle"
    assert injector.decide("kms", "ListKeys") is None  # no quota configured for kms


def test_same_seed_replays_the_same_faults() -> None:
    rules = {"seed": 42, "rules": [{"throttle": 0.2, "server_error": 0.1, "reset": 0.1}]}
    first = FaultInjector(rules)
    run = [getattr(first.decide("s", "Op"), "kind", None) for _ in range(200)]
    first.set_rules(rules)  # a swap restarts the random sequence from the seed
    assert [getattr(first.decide("s", "Op"), "kind", None) for _ in range(200)] == run
    other = FaultInjector({**rules, "seed": 43})
    assert [getattr(other.decide("s", "Op"), "kind", None) for _ in range(200)] != run


def test_counters_are_thread_safe() -> None:
    import threading

    injector = FaultInjector()
    threads = [threading.Thread(target=lambda: [injector.decide("s", "Op") for _ in range(500)])
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert injector.counters() == {"s:Op": 4000}
    injector.reset_counters()
    assert injector.counters() == {}


# -- through boto3, in both modes ------------------------------------------------------------
def test_latency_delays_the_call(emulator) -> None:
    sso = emulator.client("sso-admin", config=NO_RETRY)
    sso.list_instances()  # warm up (client, backends)
    emulator.set_faults({"rules": [{"operation": "ListInstances", "latency_ms": 150}]})
    started = time.monotonic()
    sso.list_instances()
    # A lower bound only: a loaded machine makes calls slower, never faster. That other
    # operations are not delayed is the decision function's job (test_latency_is_global_plus_rule).
    assert time.monotonic() - started >= 0.15


def test_sso_admin_quota_is_shared_across_apis(emulator) -> None:
    emulator.set_faults({"quotas": {"sso-admin": {"rate": 0.01, "burst": 4}}})
    sso = emulator.client("sso-admin", config=NO_RETRY)
    arn = sso.list_instances()["Instances"][0]["InstanceArn"]
    results = [outcome(sso.list_instances), outcome(lambda: sso.list_permission_sets(InstanceArn=arn)),
               outcome(lambda: sso.list_permission_sets(InstanceArn=arn)),
               outcome(lambda: sso.list_permission_sets(InstanceArn=arn)),
               outcome(sso.list_instances)]
    assert results == ["ok", "ok", "ok", "ThrottlingException", "ThrottlingException"]


def test_identitystore_quota_is_per_api(emulator) -> None:
    emulator.set_faults({"quotas": {"identitystore": {"rate": 0.01, "burst": 2}}})
    ids = emulator.client("identitystore", config=NO_RETRY)
    users = [outcome(lambda: ids.list_users(IdentityStoreId=STORE)) for _ in range(3)]
    groups = [outcome(lambda: ids.list_groups(IdentityStoreId=STORE)) for _ in range(3)]
    assert users == groups == ["ok", "ok", "ThrottlingException"]
    with pytest.raises(ClientError) as caught:
        ids.list_users(IdentityStoreId=STORE)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == "Rate exceeded"
    assert response["RetryAfterSeconds"] >= 1  # identitystore models RetryAfterSeconds


def test_probabilities_replay_and_match_rates(emulator) -> None:
    rules = {"seed": 11, "rules": [{"operation": "identitystore:ListGroups", "throttle": 0.2,
                                     "server_error": 0.1, "reset": 0.1}]}
    ids = emulator.client("identitystore", config=NO_RETRY)

    def run() -> list[str]:
        emulator.set_faults(rules)
        return [outcome(lambda: ids.list_groups(IdentityStoreId=STORE)) for _ in range(200)]

    first = run()
    assert run() == first
    counts = {kind: first.count(kind) for kind in ("ThrottlingException", "InternalServerException", "reset")}
    assert 25 <= counts["ThrottlingException"] <= 55
    assert 8 <= counts["InternalServerException"] <= 35
    assert 8 <= counts["reset"] <= 35
    assert first.count("ok") == 200 - sum(counts.values())
    assert emulator.counters()["identitystore:ListGroups"] == 400


def test_server_error_is_a_real_500(emulator) -> None:
    emulator.set_faults({"rules": [{"operation": "sso-admin:*", "server_error": 1}]})
    with pytest.raises(ClientError) as caught:
        emulator.client("sso-admin", config=NO_RETRY).list_instances()
    assert caught.value.response["Error"]["Code"] == "InternalServerException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_reset_is_a_transport_error(emulator) -> None:
    emulator.set_faults({"rules": [{"operation": "ListInstances", "reset": 1}]})
    with pytest.raises(ConnectionClosedError):
        emulator.client("sso-admin", config=NO_RETRY).list_instances()


def test_lost_response_applies_the_call_then_drops_the_connection(emulator) -> None:
    store = emulator.client("sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
    ids = emulator.client("identitystore", config=NO_RETRY)
    emulator.set_faults({"rules": [{"operation": "CreateGroup", "lost_response": 1}]})
    with pytest.raises(ConnectionClosedError):
        ids.create_group(IdentityStoreId=store, DisplayName="admins")
    groups = ids.list_groups(IdentityStoreId=store)["Groups"]
    assert [g["DisplayName"] for g in groups] == ["admins"]  # the service did it; the client cannot know


def test_fail_after_denies_every_later_call(emulator) -> None:
    emulator.set_faults({"rules": [{"operation": "ListPermissionSets", "fail_after": 3,
                                     "error": "AccessDeniedException"}]})
    sso = emulator.client("sso-admin", config=NO_RETRY)
    arn = sso.list_instances()["Instances"][0]["InstanceArn"]
    results = [outcome(lambda: sso.list_permission_sets(InstanceArn=arn)) for _ in range(5)]
    assert results == ["ok", "ok", "ok", "AccessDeniedException", "AccessDeniedException"]
    with pytest.raises(ClientError) as caught:
        sso.list_permission_sets(InstanceArn=arn)
    assert "is not authorized to perform: sso:ListPermissionSets" in caught.value.response["Error"]["Message"]
    assert outcome(sso.list_instances) == "ok"


def test_counters_see_every_call_and_reset(emulator) -> None:
    emulator.set_faults({"rules": [{"operation": "ListUsers", "throttle": 1}]})
    ids = emulator.client("identitystore", config=NO_RETRY)
    for _ in range(3):
        outcome(lambda: ids.list_users(IdentityStoreId=STORE))
    emulator.client("sts").get_caller_identity()
    assert emulator.counters() == {"identitystore:ListUsers": 3, "sts:GetCallerIdentity": 1}
    assert emulator.fault_counters() == {"identitystore:ListUsers:throttle": 3}
    emulator.reset_counters()
    assert emulator.counters() == {}


def test_rules_swap_live(emulator) -> None:
    sso = emulator.client("sso-admin", config=NO_RETRY)
    emulator.set_faults({"rules": [{"throttle": 1}]})
    assert outcome(sso.list_instances) == "ThrottlingException"
    emulator.set_faults(None)
    assert outcome(sso.list_instances) == "ok"


@pytest.mark.parametrize(("service", "call", "rule", "code", "status"), [
    ("s3", lambda c: c.list_buckets(), {"throttle": 1}, "SlowDown", 503),
    ("s3", lambda c: c.list_buckets(), {"fail_after": 0}, "AccessDenied", 403),
    ("sts", lambda c: c.get_caller_identity(), {"throttle": 1}, "Throttling", 400),
    ("sts", lambda c: c.get_caller_identity(), {"fail_after": 0}, "AccessDenied", 403),
    ("kms", lambda c: c.list_keys(), {"server_error": 1}, "KMSInternalException", 500),
    ("kms", lambda c: c.list_keys(), {"throttle": 1}, "ThrottlingException", 400),
])
def test_other_protocols_get_their_real_error_shapes(emulator, service, call, rule, code, status) -> None:
    emulator.set_faults({"rules": [{"operation": f"{service}:*", **rule}]})
    with pytest.raises(ClientError) as caught:
        call(emulator.client(service, config=NO_RETRY))
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


# -- in-process specifics ----------------------------------------------------------------------
def test_handler_runs_before_moto_and_is_removed_after(sandbox) -> None:
    from moto.core.models import botocore_stubber

    specs = [spec for spec in BUILTIN_HANDLERS if spec[0] == "before-send"]
    assert specs[0] == ("before-send", inprocess._before_send)
    assert ("before-send", botocore_stubber) in specs[1:]
    inprocess.uninstall()
    assert ("before-send", inprocess._before_send) not in BUILTIN_HANDLERS
    inprocess.install(sandbox.faults)


def test_sessions_made_by_product_code_are_affected(sandbox) -> None:
    import boto3

    sandbox.set_faults({"rules": [{"operation": "ListInstances", "throttle": 1}]})
    # as product code would: module-level boto3, credentials and region from the environment
    client = boto3.client("sso-admin", config=NO_RETRY)
    assert outcome(client.list_instances) == "ThrottlingException"
    assert sandbox.counters() == {"sso-admin:ListInstances": 1}


def test_handler_is_inert_without_an_injector() -> None:
    inprocess.uninstall()
    assert inprocess._before_send(request=None, event_name="before-send.sso-admin.ListInstances") is None


# A call the rules refuse changes nothing (a refused CreateUser must not create the user).
@pytest.mark.parametrize("rule", [{"fail_after": 0, "error": "AccessDeniedException"}, {"throttle": 1},
                                  {"server_error": 1}])
def test_a_refused_write_is_not_applied(emulator, rule):
    ids = emulator.client("identitystore", config=NO_RETRY)
    emulator.set_faults({"rules": [{"operation": "CreateUser", **rule}]})
    with pytest.raises(ClientError):
        ids.create_user(IdentityStoreId=STORE, UserName="refused", DisplayName="R",
                        Name={"GivenName": "R", "FamilyName": "R"})
    emulator.set_faults(None)
    assert [u["UserName"] for u in ids.list_users(IdentityStoreId=STORE)["Users"]] == []


def test_quirks_are_off_by_default_and_round_trip_through_the_served_form():
    from awsideman.sandbox.quirks import AccountDenial, Quirks

    assert FaultRules().quirks == Quirks() and "quirks" not in {k for k, v in FaultRules().to_dict().items() if v}
    rules = FaultRules.from_dict({"quirks": {"propagation_lag_seconds": 2, "provisioning_conflicts": True,
                                             "credentials_expire_after_calls": 5,
                                             "deny_accounts": [{"accounts": ["111111111111"]}]}})
    assert rules.quirks.deny_accounts == (AccountDenial(frozenset({"111111111111"})),)
    assert rules.quirks.denied("CreateAccountAssignment", "111111111111")
    assert not rules.quirks.denied("CreateAccountAssignment", "222222222222")
    assert not rules.quirks.denied("DeleteAccountAssignment", "111111111111")
    assert FaultRules.from_dict(rules.to_dict()) == rules


@pytest.mark.parametrize(("quirks", "message"), [
    ({"lag": 1}, "quirks.lag: unknown key"),
    ({"orphan_assignments": "yes"}, "quirks.orphan_assignments: must be true or false"),
    ({"deny_accounts": [{"accounts": ["12"]}]}, "quirks.deny_accounts[0].accounts[0]: must be a 12-digit account id"),
    ({"deny_accounts": [{"operation": "CreateAccountAssignment"}]}, "quirks.deny_accounts[0]"),
    ({"propagation_lag_seconds": -1}, "quirks.propagation_lag_seconds: must be a number >= 0"),
])
def test_bad_quirks_are_refused_with_the_key_named(quirks, message):
    with pytest.raises(FaultRulesError, match=re.escape(f"faults.yaml: {message}")):
        FaultRules.from_dict({"quirks": quirks}, source="faults.yaml")
