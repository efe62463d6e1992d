"""`awsideman restore BACKUP_ID`: plan, confirm, apply (thin: the service does the work)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from awsideman.cli.attribute_text import attribute_lines
from awsideman.cli.options import (
    LockTimeoutOpt,
    NoColorOpt,
    OutputOpt,
    PreflightOpt,
    QuietOpt,
    ResourcesOpt,
    StoreOpt,
    YesOpt,
    errors_and_leftover,
    live_change,
    live_change_outcome,
    preflight_lines,
    renderer,
)
from awsideman.core.exceptions import UsageError
from awsideman.core.rollback_policy import WHEN, RollbackPolicy, parse_keep
from awsideman.render import Renderer

if TYPE_CHECKING:
    from awsideman.services.restore import RestoreResult

EXIT_CODES = {"succeeded": 0, "planned": 0, "partial": 3, "rolled_back": 4, "rollback_failed": 5}


def restore(
    ctx: typer.Context,
    backup_id: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="Backup id (bk-YYYYMMDDTHHMMSSZ-xxxxxx); not needed with --resume.", show_default=False)] = None,
    store: StoreOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing.")] = False,
    conflict: Annotated[str, typer.Option(
        "--conflict", help="overwrite: make differing resources like the backup; skip: leave them; "
        "fail: change nothing if anything differs.")] = "overwrite",
    prune: Annotated[bool, typer.Option(
        "--prune", help="Also delete what the backup does not have (in scope).")] = False,
    resources: ResourcesOpt = None,
    auto_rollback: Annotated[bool, typer.Option(
        "--auto-rollback/--no-auto-rollback", help="On a failure, undo what was applied (default on).")] = True,
    rollback_when: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--rollback-when", metavar="WHEN", help="When to undo automatically: on_failure (default), never, "
        "on_partial (also a partial restore). Default: rollback.when in the config.")] = None,
    rollback_keep: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--rollback-keep", metavar="KINDS", help="Kinds an automatic rollback keeps applied, comma-separated "
        "(users,groups,memberships,permission-sets,assignments; none). Default: rollback.keep.")] = None,
    rollback_time_budget: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--rollback-time-budget", metavar="SECONDS", help="Seconds the automatic rollback may take; what is "
        "left then is listed and `awsideman rollback OP` finishes it. Default: rollback.time_budget.")] = None,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Restore a backup marked partial (what it misses is left alone).")] = False,
    lock_timeout: LockTimeoutOpt = 0.0,
    target_instance: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--target-instance", metavar="ARN",
        help="Restore into this instance although the backup is of another (a migration).")] = None,
    resume: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--resume", metavar="OP_ID",
        help="Continue a restore that stopped without rollback, with its journaled options.")] = None,
    yes: YesOpt = False,
    preflight: PreflightOpt = "auto",
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Restore a backup into the instance: plan, confirm, apply with the journal."""
    from awsideman.core.planner import CONFLICT_MODES
    from awsideman.services.backup import parse_resources
    from awsideman.services.restore import RestoreRequest, RestoreService

    render = renderer(ctx, output, quiet, no_color)
    if conflict not in CONFLICT_MODES:
        raise UsageError(f"--conflict must be one of {', '.join(CONFLICT_MODES)}, not {conflict!r}")
    if resume is None and backup_id is None:
        raise UsageError("Name the backup to restore (awsideman backup list), or --resume OP_ID")
    hint = (f"Continue it without asking: awsideman restore --resume {resume} --yes" if resume else
            f"Review the plan first: awsideman restore {backup_id} --dry-run, then add --yes.")
    shown: list[bool] = []

    def show(plan: Any) -> None:
        _plan_text(render, _as_result_view(plan))
        shown.append(True)

    with live_change(ctx, render, yes=yes, dry_run=dry_run, lock_timeout=lock_timeout, refusal="Refusing to restore",
                     hint=hint, show=show, question=lambda plan: (
                         f"Apply these {len(plan.changes)} change(s) to {plan.target.get('instance_arn')}?")
                     ) as (context, confirm):
        if resume is not None:
            _resume_flags(ctx, backup_id, dry_run)
            result = RestoreService(context).resume(resume, lock_timeout=lock_timeout, confirm=confirm,
                                                    backup_id=backup_id, preflight=preflight)
        else:
            request = RestoreRequest(backup_id=str(backup_id), store=store, dry_run=dry_run, conflict=conflict,
                                     prune=prune, resources=parse_resources(resources), auto_rollback=auto_rollback,
                                     allow_partial=allow_partial, lock_timeout=lock_timeout, preflight=preflight,
                                     target_instance=target_instance)
            request.rollback = _policy(context.settings.rollback, rollback_when, rollback_keep,
                                       rollback_time_budget)
            result = RestoreService(context).run(request, confirm=confirm)
    live_change_outcome(render, context, result, lambda: _result_text(render, result, plan_shown=bool(shown)))
    code = EXIT_CODES.get(result.status, 5 if result.leftover and not result.resumable else 1)
    if code:
        raise typer.Exit(code)


# The restore's own options: a resume keeps the journaled ones, so giving them again is an error
# rather than a silent no-op (BACKUP_ID may be given: it must be the restore's).
_FIXED_BY_RESUME = ("store", "conflict", "prune", "resources", "auto_rollback", "allow_partial", "target_instance",
                    "rollback_when", "rollback_keep", "rollback_time_budget")


def _policy(configured: RollbackPolicy, when: str | None, keep: str | None, budget: float | None) -> RollbackPolicy:
    """The config's ``rollback:`` with what the flags say instead; a bad value is an input error (exit 2)."""
    if when is not None and when not in WHEN:
        raise UsageError(f"--rollback-when must be one of {', '.join(WHEN)}, not {when!r}")
    try:
        kinds = parse_keep(keep) if keep is not None else None
        return configured.merged(when=when, keep=kinds, time_budget=budget)
    except ValueError as exc:
        raise UsageError(str(exc).replace("invalid rollback config: time_budget", "--rollback-time-budget")) from None


def _resume_flags(ctx: typer.Context, backup_id: str | None, dry_run: bool) -> None:
    given = [name for name in _FIXED_BY_RESUME
             if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")]
    if dry_run:
        given.append("dry_run")
    if given:
        names = ", ".join("--" + n.replace("_", "-") for n in given)
        raise UsageError(f"--resume continues with the restore's own options; drop {names}",
                         remediation=[f"See them with `awsideman report show {ctx.params.get('resume')}`."])


def _as_result_view(plan: Any) -> dict[str, Any]:
    return {"plan": plan.summary(), "changes": [{"address": c.address, "action": c.action, "diff": c.diff}
                                               for c in plan.changes],
            "source": plan.source or {}, "target": plan.target or {}}


def _plan_text(render: Renderer, view: dict[str, Any]) -> None:
    source, target = view["source"], view["target"]
    render.fields("Restore plan", {"from": f"{source.get('instance_arn')} ({source.get('identity_store_id')})",
                                   "into": f"{target.get('instance_arn')} ({target.get('identity_store_id')})"})
    rows = [[resource, action, count]
            for resource, actions in view["plan"].items() for action, count in actions.items()]
    if rows:
        render.table("Changes by resource kind and action", ["resource", "action", "count"], rows)
    for change in view["changes"]:
        if change["action"] == "update":
            render.line(f"  ~ {change['address']}")
            for attr, values in change["diff"].items():
                for line in attribute_lines(attr, values):
                    render.line(f"      {line}")


def _untouched_text(item: dict[str, Any]) -> str:
    held = item.get("addresses") or []
    text = f"{item['what']}: {item['reason']}"
    if held and held != [item["what"]]:
        text += f" ({len(held)} change(s) held back: {', '.join(held[:5])}{', ...' if len(held) > 5 else ''})"
    return text


def _result_text(render: Renderer, result: RestoreResult, *, plan_shown: bool = False) -> None:
    if not plan_shown:  # shown once: before the prompt or the apply, else here
        _plan_text(render, {"plan": result.plan, "changes": result.changes, "source": result.source,
                            "target": result.target})
    for label, items in (("skipped (differs, --conflict skip)", [item["address"] for item in result.skipped
                                                                  if "rule" not in item]),
                         ("skipped by policy", [f"{item['address']}: {item['reason']} ({item['rule']})"
                                                for item in result.skipped if "rule" in item]),
                         ("differs (--conflict fail)", [item["address"] for item in result.conflicts]),
                         ("not touched", [_untouched_text(item) for item in result.not_touched])):
        for item in items:
            render.warn(f"{label}: {item}")
    if result.dry_run:
        preflight_lines(render, result.preflight)
        render.line(f"Dry run: {len(result.changes)} change(s) planned, none made.", style="bold")
        return
    headline = {"succeeded": ("Restore succeeded", "bold green"), "partial": ("Restore finished with skipped items",
                "bold yellow"), "rolled_back": (("Restore FAILED and was rolled back, except what rollback.keep kept"
                                                 if result.kept else "Restore FAILED and was rolled back completely"),
                                                "bold yellow"),
                "rollback_failed": ("Restore FAILED and the rollback did NOT complete", "bold red"),
                "failed": ("Restore FAILED", "bold red"),
                "interrupted": ("Restore PAUSED (resumable)", "bold yellow"),
                }.get(result.status, (result.status, "bold"))
    render.line(f"{headline[0]}: {result.backup_id}", style=headline[1])
    render.fields(None, {"operation": result.operation_id or "(none)", **result.counts,
                         "api calls": result.api_calls, "mutating calls": result.mutating_calls,
                         "seconds": result.duration_seconds})
    errors_and_leftover(render, result.errors, result.leftover)
    for note in [*result.notes, *result.warnings]:
        render.warn(note)
