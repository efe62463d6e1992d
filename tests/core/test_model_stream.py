"""The streamed payload is byte for byte what packing the whole document gave."""

from __future__ import annotations

import gzip
import random

from awsideman.core.backup_format import pack_snapshot, unpack_snapshot
from awsideman.core.model import Assignment, Group, Membership, OrphanAssignment, Snapshot, User, canonical_json
from awsideman.sandbox.seeder import SIZES, _plan


def _snapshot(orphans: bool) -> Snapshot:
    drawn = _plan(SIZES["small"], random.Random(3))
    users = [User(name, f"u-{name}", {k: v for k, v in u.items() if k != "UserName"})
             for name, u in drawn["users"].items()]
    groups = [Group(name, f"g-{name}", g.get("Description")) for name, g in drawn["groups"].items()]
    memberships = [Membership(g, u, f"g-{g}", f"u-{u}") for g, u in drawn["memberships"]]
    assignments = [Assignment(a[3], a[2], a[0], a[1], f"arn-{a[2]}", f"id-{a[1]}") for a in drawn["assignments"]]
    orphan = [OrphanAssignment("111111111111", "ps", "USER", "gone", "arn")] if orphans else []
    return Snapshot(users, groups, memberships, [], assignments, orphan)


def test_chunks_are_the_canonical_json_in_pieces() -> None:
    for snapshot in (_snapshot(True), _snapshot(False), Snapshot()):
        whole = canonical_json(snapshot.to_dict())
        assert b"".join(snapshot.canonical_chunks(batch=7)) == whole
        assert pack_snapshot(snapshot) == gzip.compress(whole, compresslevel=6, mtime=0)


def test_streamed_payload_reads_back() -> None:
    snapshot = _snapshot(True)
    assert unpack_snapshot(pack_snapshot(snapshot), 10 * 1024 * 1024) == snapshot
