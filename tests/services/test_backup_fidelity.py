"""A backup of the seeded `small` instance holds every attribute the seeder set."""

from __future__ import annotations

import pytest

from awsideman.services.archive import BackupArchive
from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import assert_matches_seed, make_context


@pytest.mark.parametrize("strategy", ["auto", "permission-set", "principal"])
def test_backup_of_small_matches_seed_field_by_field(sandbox, strategy):
    seeded = sandbox.seed("small", seed=3)
    service = BackupService(make_context(assignment_strategy=strategy))
    result = service.create(BackupRequest())
    assert result.status == "succeeded"
    expected = {k: v for k, v in seeded.counts().items() if k != "accounts"}
    assert result.counts == expected
    _, snapshot = BackupArchive(service.context).load(result.backup_id, None)
    assert_matches_seed(snapshot, seeded)


def test_same_instance_gives_byte_identical_payload(sandbox):
    sandbox.seed("tiny", seed=1)
    service = BackupService(make_context())
    first = BackupArchive(service.context).show(service.create(BackupRequest()).backup_id, None)
    second = BackupArchive(service.context).show(service.create(BackupRequest()).backup_id, None)
    assert first["payload"]["sha256"] == second["payload"]["sha256"]


def test_resources_subset_holds_only_those_kinds(sandbox):
    seeded = sandbox.seed("tiny", seed=2)
    service = BackupService(make_context())
    result = service.create(BackupRequest(resources=["permission-sets", "assignments"]))
    manifest, snapshot = BackupArchive(service.context).load(result.backup_id, None)
    assert manifest["resources"] == ["assignments", "permission-sets"]
    assert snapshot.users == [] and snapshot.groups == [] and snapshot.memberships == []
    assert len(snapshot.permission_sets) == len(seeded.permission_sets)
    assert len(snapshot.assignments) == len(seeded.assignments)


def test_principal_route_denied_falls_back_to_permission_set_route(sandbox):
    seeded = sandbox.seed("small", seed=4)
    sandbox.set_faults({"rules": [{"operation": "ListAccountAssignmentsForPrincipal",
                                   "fail_after": 0, "error": "AccessDeniedException"}]})
    service = BackupService(make_context(assignment_strategy="principal"))
    result = service.create(BackupRequest())
    assert result.status == "succeeded"
    _, snapshot = BackupArchive(service.context).load(result.backup_id, None)
    assert_matches_seed(snapshot, seeded)
    counters = sandbox.counters()
    assert counters.get("sso-admin:ListAccountAssignments", 0) > 0


@pytest.mark.parametrize("seed", range(5))
def test_every_seeded_variant_survives_the_round_trip(sandbox, seed):
    seeded = sandbox.seed("tiny", seed=100 + seed)
    service = BackupService(make_context())
    _, snapshot = BackupArchive(service.context).load(service.create(BackupRequest()).backup_id, None)
    assert_matches_seed(snapshot, seeded)


def test_newer_user_attributes_are_backed_up(sandbox):
    # botocore drops response fields its model lacks, so an older boto3 would silently leave
    # these out of every backup: this is what sets the boto3 floor (see CHANGELOG).
    sandbox.seed("tiny", seed=5)
    ids = sandbox.client("identitystore")
    store_id = sandbox.client("sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
    newer = {
        "Website": "https://ada.example.com",
        "Birthdate": "1815-12-10",
        "Photos": [{"Value": "https://example.com/ada.png", "Type": "photo", "Primary": True}],
        "Roles": [{"Value": "Countess", "Type": "work", "Primary": True}],
    }
    ids.create_user(IdentityStoreId=store_id, UserName="ada", DisplayName="Ada Lovelace",
                    Name={"GivenName": "Ada", "FamilyName": "Lovelace"}, **newer)
    service = BackupService(make_context())
    _, snapshot = BackupArchive(service.context).load(service.create(BackupRequest()).backup_id, None)
    (ada,) = [u for u in snapshot.users if u.user_name == "ada"]
    assert {k: ada.attributes.get(k) for k in newer} == newer
