"""`awsideman backup create|list|show|verify|delete`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from awsideman.cli.options import (
    NoColorOpt,
    OutputOpt,
    QuietOpt,
    ResourcesOpt,
    StoreOpt,
    YesOpt,
    renderer,
    report_hint,
    service_context,
)
from awsideman.core.cancel import process_stop
from awsideman.core.exceptions import AwsidemanError, UsageError
from awsideman.core.retention import RetentionError, RetentionPolicy
from awsideman.render import Renderer

# The services (and, through them, the SDK) are imported by the command that runs, not when the
# commands are declared: the help and every other command start without them.
if TYPE_CHECKING:
    from awsideman.services.archive import BackupArchive
    from awsideman.services.context import Context
    from awsideman.services.prune import PruneResult

app = typer.Typer(help="Create, list, inspect, verify and delete backups.", no_args_is_help=True, rich_markup_mode=None)

BackupIdArg = Annotated[str, typer.Argument(help="Backup id (bk-YYYYMMDDTHHMMSSZ-xxxxxx).")]

EXIT_PARTIAL = 3
ASSIGNMENT_STRATEGIES = ("auto", "permission-set", "principal")  # as config.schema.json's assignment_strategy


def _context(ctx: typer.Context, render: Renderer) -> Context:
    """The services' Context for a command that is no operation (no run record, no metrics file)."""
    from awsideman.services.context import Context

    context = Context(ctx.find_root().obj.settings(), progress=render.progress, display=render, stop=process_stop())
    ctx.call_on_close(context.close)
    return context


def _archive(ctx: typer.Context, render: Renderer) -> BackupArchive:
    from awsideman.services.archive import BackupArchive

    return BackupArchive(_context(ctx, render))


def _answer(ctx: typer.Context, output: str | None, quiet: bool, no_color: bool,
            read: Callable[[BackupArchive], dict[str, Any]], text: Callable[[Renderer, dict[str, Any]], None]) -> None:
    """A command that reads the store and changes nothing: what it read is the JSON document, or ``text``."""
    render = renderer(ctx, output, quiet, no_color)
    found = read(_archive(ctx, render))
    if render.json:
        render.document(found)
    else:
        text(render, found)


@app.command("create")
def create(
    ctx: typer.Context,
    resources: ResourcesOpt = None,
    description: Annotated[Optional[str], typer.Option("--description", help="Free text kept in the manifest.")] = None,  # noqa: UP045
    store: StoreOpt = None,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Write a backup marked partial when a step fails after retries (exit 3).")] = False,
    resume: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--resume", help="Continue a failed or killed backup operation from its checkpoints.")] = None,
    kms_key: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--kms-key", help="KMS key id/ARN/alias: encrypt the payload client-side (envelope, AES-256-GCM).")] = None,
    assignment_strategy: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--assignment-strategy",
        help="How assignments are listed: auto (cheaper route), permission-set (every account of every "
             "permission set: also sees orphan assignments of deleted users and groups), principal. "
             "Default: assignment_strategy in the config.")] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Back up the instance to a store."""
    from awsideman.services.account import closing_account
    from awsideman.services.backup import BackupRequest, BackupService, parse_resources

    render = renderer(ctx, output, quiet, no_color)
    if resume and (resources or description or store or assignment_strategy):
        raise UsageError("--resume continues an operation with its original --resources, --description, "
                         "--store and --assignment-strategy; do not pass them again")
    if assignment_strategy is not None and assignment_strategy not in ASSIGNMENT_STRATEGIES:
        raise UsageError(f"--assignment-strategy must be one of {', '.join(ASSIGNMENT_STRATEGIES)}, "
                         f"not {assignment_strategy!r}")
    request = BackupRequest(resources=parse_resources(resources), description=description, store=store,
                            allow_partial=allow_partial, resume=resume, kms_key=kms_key,
                            assignment_strategy=assignment_strategy)
    context = service_context(ctx, render)
    result = BackupService(context).create(request)
    closing_account(context.journal, result)  # status and duration as `report show` says them
    pruned = _prune_after_backup(context, result) if result.status == "succeeded" else None
    if render.json:
        render.document(dict(result.to_dict(), report_command=report_hint(result.operation_id),
                             **({"pruned": pruned.to_dict()} if pruned else {})))
    else:
        _created_text(render, result)
        if pruned is not None:
            _pruned_text(render, pruned)
        render.phase_lines(context.phases.records())
        render.line(f"Operation {result.operation_id}; report: {report_hint(result.operation_id)}")
    if result.status == "partial":
        raise typer.Exit(EXIT_PARTIAL)


def _created_text(render: Renderer, result: Any) -> None:
    title = "Backup written" if result.status == "succeeded" else "PARTIAL backup written"
    render.line(f"{title}: {result.backup_id}", style="bold green" if result.status == "succeeded" else "bold yellow")
    render.fields(None, {"store": result.store, "operation": result.operation_id,
                         **{k.replace("_", " "): v for k, v in result.counts.items()},
                         "api calls": result.api_calls, "retries": result.retries,
                         "steps reused": result.reused_steps, "seconds": result.duration_seconds})
    for note in [*result.notes, *result.warnings]:
        render.warn(note)
    if result.missing:
        render.line("Missing from this backup:", style="bold yellow")
        for group in result.missing:
            render.line(f"  - {group['count']} {group['resource']} step(s): {group['code']}: {group['reason']}")
            for step in group["remediation"]:
                render.line(f"      {step}")


@app.command("list")
def list_backups(ctx: typer.Context, store: StoreOpt = None, output: OutputOpt = None,
                 quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """List the backups in a store, newest first."""
    _answer(ctx, output, quiet, no_color, lambda archive: _listing(*archive.list(store)), _listing_text)


def _listing(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"store": url, "backups": rows, "count": len(rows)}


def _listing_text(render: Renderer, listing: dict[str, Any]) -> None:
    url, rows = listing["store"], listing["backups"]
    if not rows:
        render.line(f"No backups in {url}")
        return
    render.table(f"Backups in {url}", ["backup id", "created", "status", "users", "groups",
                                       "permission sets", "assignments", "description"],
                 [_list_row(r) for r in rows])


def _list_row(row: dict[str, Any]) -> list[Any]:
    if "error" in row:
        return [row["backup_id"], "", "DAMAGED: " + row["error"], "", "", "", "", ""]
    counts = row["counts"]
    status = "partial" if row["partial"] else "complete"
    return [row["backup_id"], row["created_at"], status, counts["users"], counts["groups"],
            counts["permission_sets"], counts["assignments"], row.get("description") or ""]


@app.command("show")
def show(ctx: typer.Context, backup_id: BackupIdArg, store: StoreOpt = None, output: OutputOpt = None,
         quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """Summarise one backup: source, counts, encryption, what is missing."""
    _answer(ctx, output, quiet, no_color, lambda archive: archive.show(backup_id, store), _manifest_text)


def _manifest_text(render: Renderer, manifest: dict[str, Any]) -> None:
    source = manifest["source"]
    render.fields(f"Backup {manifest['backup_id']}", {
        "created": manifest["created_at"], "status": "PARTIAL" if manifest["partial"] else "complete",
        "description": manifest.get("description") or "", "store": manifest["store"],
        "resources": ", ".join(manifest.get("resources", [])),
        "instance": source.get("instance_arn"), "identity store": source.get("identity_store_id"),
        "account": source.get("account_id") or "unknown", "region": source.get("region"),
        **{k.replace("_", " "): v for k, v in manifest["counts"].items()},
        "encryption": manifest["payload"]["encryption"].get("type"),
        "payload sha256": manifest["payload"]["sha256"], "tool version": manifest.get("tool_version"),
    })
    for group in manifest.get("missing") or []:
        render.line(f"  missing {group['count']} {group['resource']} step(s): {group['code']}: {group['reason']}")
    _orphans_text(render, manifest.get("orphan_assignments"))


def _orphans_text(render: Renderer, orphans: dict[str, Any] | None) -> None:
    """Orphan assignments (their principal was deleted): how many, each one, or why none could be seen."""
    if orphans is None:
        return
    if not orphans["visible"]:
        render.warn(f"orphan assignments: not looked for. {orphans.get('note') or ''}".rstrip())
        return
    render.line(f"  orphan assignments: {orphans['count']} (their user or group no longer exists; "
                "never recreated by restore)" if orphans["count"] else "  orphan assignments: 0")
    for item in orphans.get("assignments") or []:
        render.line(f"    - {item['principal_type'].lower()} {item['principal_id']} (deleted) -> "
                    f"{item['permission_set_name']} in {item['account_id']}")


@app.command("verify")
def verify(ctx: typer.Context, backup_id: BackupIdArg, store: StoreOpt = None, output: OutputOpt = None,
           quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """Check checksum, format version, decryptability and internal consistency (exit 1 if bad)."""
    _answer(ctx, output, quiet, no_color, lambda archive: archive.verify(backup_id, store), _verified_text)


def _verified_text(render: Renderer, result: dict[str, Any]) -> None:
    partial = " (partial backup)" if result["partial"] else ""
    render.line(f"Backup {result['backup_id']} is valid{partial}", style="bold green")
    render.line("Checked: " + ", ".join(result["checks"]))


@app.command("delete")
def delete(ctx: typer.Context, backup_id: BackupIdArg, store: StoreOpt = None,
           yes: YesOpt = False,
           output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """Delete one backup."""
    render = renderer(ctx, output, quiet, no_color)
    archive = _archive(ctx, render)
    manifest = archive.find(backup_id, store)  # validates the id and that it exists before asking
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("Refusing to delete without --yes when there is no terminal to confirm at")
        damaged = " (damaged: " + manifest["error"] + ")" if "error" in manifest else ""
        if not typer.confirm(f"Delete backup {manifest['backup_id']}{damaged} from {manifest['store']}?"):
            raise typer.Exit(1)
    url = archive.delete(backup_id, store)
    if render.json:
        render.document({"backup_id": manifest["backup_id"], "store": url, "status": "deleted"})
    else:
        render.line(f"Deleted backup {manifest['backup_id']} from {url}")


def _prune_after_backup(context: Context, result: Any) -> PruneResult | None:
    """`prune_after_backup` in the config: apply it to the store the backup was written to."""
    from awsideman.services.prune import PruneService

    options = context.settings.prune_after_backup
    if not options:
        return None
    policy = RetentionPolicy.from_options(options.get("keep_last"), options.get("keep_within"),
                                          options.get("keep_daily"))
    try:
        return PruneService(context).run(result.store, policy, dry_run=False)
    except AwsidemanError as exc:  # the backup is safe; pruning is housekeeping
        result.warnings.append(f"prune_after_backup failed: {exc.message}")
        return None


@app.command("prune")
def prune(
    ctx: typer.Context,
    keep_last: Annotated[Optional[int], typer.Option("--keep-last", help="Keep the N newest backups.",  # noqa: UP045
                                                     show_default=False)] = None,
    keep_within: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--keep-within", help="Keep backups younger than DURATION (e.g. 30d, 12h, 2w).", show_default=False)] = None,
    keep_daily: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--keep-daily", help="Keep the newest backup of each of the last N days that have one.",
        show_default=False)] = None,
    store: StoreOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    yes: YesOpt = False,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Delete the backups no --keep-* option keeps (never the newest complete one, never a write in progress)."""
    from awsideman.services.prune import PruneService

    render = renderer(ctx, output, quiet, no_color)
    try:
        policy = RetentionPolicy.from_options(keep_last, keep_within, keep_daily)
    except RetentionError as exc:
        raise UsageError(str(exc)) from None
    if not dry_run and not yes and not (sys.stdin.isatty() and not render.json):
        raise UsageError("Refusing to prune without --yes when there is no terminal to confirm at",
                         remediation=["See what it would delete: add --dry-run; then add --yes."])
    service = PruneService(_context(ctx, render))
    if not dry_run and not yes:
        planned = service.plan(store, policy)
        _pruned_text(render, planned, planned=True)
        if not planned.deleted or not typer.confirm(f"Delete these {len(planned.deleted)} backup(s)?"):
            raise typer.Exit(0 if not planned.deleted else 1)
    result = service.run(store, policy, dry_run=dry_run)
    if render.json:
        render.document(result.to_dict())
    else:
        _pruned_text(render, result, planned=dry_run)
    if result.errors:
        raise typer.Exit(1)


def _pruned_text(render: Renderer, result: PruneResult, planned: bool = False) -> None:
    verb = "Would delete" if planned else "Deleted"
    render.line(f"{verb} {len(result.deleted)} backup(s) from {result.store}; keeping {len(result.kept)}.",
                style="bold")
    for entry in result.deleted:
        render.line(f"  - {entry['backup_id']}{' (partial)' if entry.get('partial') else ''}")
    for entry in result.kept:
        render.line(f"  keep {entry['backup_id']}: {', '.join(entry['reasons'])}")
    for error in result.errors:
        render.error(f"{error['backup_id']}: {error['message']}")
