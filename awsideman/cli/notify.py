"""`awsideman notify test`: one sample message to every configured sink, and each sink's outcome."""

from __future__ import annotations

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer

app = typer.Typer(help="Notifications (notify: in the config).", no_args_is_help=True, rich_markup_mode=None)


@app.command("test")
def test(ctx: typer.Context, output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """Send one sample message to every configured sink; exit 1 if any could not be delivered."""
    from awsideman.services.notify import send_test

    render = renderer(ctx, output, quiet, no_color)
    deliveries = send_test(ctx.find_root().obj.settings())
    failed = [d for d in deliveries if not d.ok]
    if render.json:
        render.document({"sinks": [d.to_dict() for d in deliveries], "sent": len(deliveries) - len(failed),
                         "failed": len(failed)})
    else:
        render.table("Notification test", ["sink", "kind", "result", "attempts", "seconds", "detail"],
                     [[d.sink, d.kind, d.result, d.attempts, f"{d.seconds:.1f}", d.detail or "-"] for d in deliveries])
        render.line(f"{len(deliveries) - len(failed)} of {len(deliveries)} sink(s) reached.")
    if failed:
        raise typer.Exit(1)
