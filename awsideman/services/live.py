"""Reading the live instance: the one path by which restore, diff and anything else that
compares against the instance read it (the backup collector, without checkpoints)."""

from __future__ import annotations

from collections.abc import Iterable

from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AwsidemanError
from awsideman.core.model import Snapshot
from awsideman.services.checkpoints import NoCheckpoints
from awsideman.services.collector import Collector, missing_report
from awsideman.services.context import Context
from awsideman.services.snapshot_builder import build_snapshot


def read_live(context: Context, resources: Iterable[str], *, analyzer: ErrorAnalyzer | None = None,
              called: str = "the live instance", consequence: str = "") -> Snapshot:
    """A snapshot of ``resources`` as the configured instance holds them now.

    Nothing is checkpointed: a live read is only good for the comparison it is made for. A read
    that misses anything raises (naming ``called``, then ``consequence``), because a plan or a
    diff against half a picture would report what is unread as absent.
    """
    kinds = list(resources)
    reader = IdentityCenterReader(context.gateway, context.instance)
    collected = Collector(reader, NoCheckpoints(), resources=kinds, concurrency=context.settings.concurrency,
                          strategy=context.settings.assignment_strategy, analyzer=analyzer,
                          progress=context.progress, stop=context.stop).run()
    if collected.missing:
        group = missing_report(collected.missing)[0]
        raise AwsidemanError(f"Cannot read {called} ({group['count']} {group['resource']} step(s): "
                             f"{group['code']}: {group['reason']}){consequence}",
                             remediation=list(group["remediation"]))
    snapshot, _notes = build_snapshot(collected.steps, set(kinds))
    return snapshot
