"""Reading the live instance: the one path by which restore, diff and anything else that
compares against the instance read it (the backup collector, without checkpoints)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AwsidemanError
from awsideman.core.model import Snapshot
from awsideman.core.route_price import PRINCIPAL
from awsideman.services.checkpoints import NoCheckpoints
from awsideman.services.collector import Collector, missing_report
from awsideman.services.context import Context
from awsideman.services.snapshot_builder import build_snapshot


@dataclass
class LiveSnapshot(Snapshot):
    """A live read, with the route its assignments were listed by (the per-principal route
    cannot see orphan assignments: see `orphans_visible`)."""

    assignment_listing: str | None = None

    @property
    def orphans_visible(self) -> bool:
        return self.assignment_listing != PRINCIPAL


def read_live(context: Context, resources: Iterable[str], *, analyzer: ErrorAnalyzer | None = None,
              called: str = "the live instance", consequence: str = "",
              strategy: str | None = None) -> LiveSnapshot:
    """A snapshot of ``resources`` as the configured instance holds them now.

    Nothing is checkpointed: a live read is only good for the comparison it is made for. A read
    that misses anything raises (naming ``called``, then ``consequence``), because a plan or a
    diff against half a picture would report what is unread as absent.
    """
    kinds = list(resources)
    reader = IdentityCenterReader(context.gateway, context.instance)
    collected = Collector(reader, NoCheckpoints(), resources=kinds, concurrency=context.settings.concurrency,
                          strategy=strategy or context.settings.assignment_strategy, analyzer=analyzer,
                          progress=context.progress, stop=context.stop).run()
    if collected.missing:
        group = missing_report(collected.missing)[0]
        raise AwsidemanError(f"Cannot read {called} ({group['count']} {group['resource']} step(s): "
                             f"{group['code']}: {group['reason']}){consequence}",
                             remediation=list(group["remediation"]))
    snapshot, _notes = build_snapshot(collected.steps, set(kinds))
    return LiveSnapshot(**{f.name: getattr(snapshot, f.name) for f in fields(Snapshot)},
                        assignment_listing=collected.strategy)
