"""``hookline triggers``: what each served trigger has been doing, from the state store.

A row per trigger that ``hookline serve`` has served: the process that polls it (the holder
of its lease, ``host/pid``; nobody while no ``serve`` holds it), its last poll cycle and what
it read, its watermark (the cursor), its lag (how long ago its last successful cycle
started), when its watermark last moved or its last webhook event arrived, its last error,
an alert when that quiet has lasted longer than the recipe's ``alert_after``, and whether it
is paused. ``--check`` exits 1 when any trigger is alerting, for a monitoring job.

``triggers pause NAME`` holds the trigger of recipe NAME for every process sharing the
store: no poll cycle runs, and jobs (webhook events go on being received and stored) wait
queued until ``triggers resume NAME``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hookline.cli.connections import no_history, state_option
from hookline.cli.run import exits, json_option
from hookline.run import operations
from hookline.run.audit import command_actor
from hookline.run.cycles import TriggerState, duration, trigger_states
from hookline.run.store import open_store


@click.group("triggers", invoke_without_command=True)
@click.option("--recipe", "recipes", multiple=True, metavar="NAME", help="Only this recipe.")
@click.option("--check", is_flag=True, help="Exit 1 when any trigger is alerting.")
@state_option
@json_option
@click.pass_context
def triggers(
    ctx: click.Context, recipes: tuple[str, ...], check: bool, state: str | None, as_json: bool
) -> None:
    """List each served trigger: its poller, last cycle, watermark, lag, errors, pauses."""
    if ctx.invoked_subcommand is None:
        _listing(ctx.obj, recipes, check, state, as_json)


@triggers.command("pause")
@click.argument("name", metavar="NAME")
@state_option
@click.pass_obj
@exits
def pause(app: Any, name: str, state: str | None) -> int:
    """Pause the trigger of recipe NAME: no polls, jobs held until resumed."""
    _set_paused(app, name, state, paused=True)
    click.echo(f"{name}: paused; events are still received and kept, their jobs wait")
    return 0


@triggers.command("resume")
@click.argument("name", metavar="NAME")
@state_option
@click.pass_obj
@exits
def resume(app: Any, name: str, state: str | None) -> int:
    """Resume the paused trigger of recipe NAME; its held jobs run."""
    _set_paused(app, name, state, paused=False)
    click.echo(f"{name}: resumed")
    return 0


def _set_paused(app: Any, name: str, state: str | None, *, paused: bool) -> None:
    async def change() -> None:
        store = open_store(state, app.pm)
        try:
            await operations.pause(store, name, command_actor(), paused=paused)
        finally:
            await store.close()

    asyncio.run(change())


@exits
def _listing(
    app: Any, recipes: tuple[str, ...], check: bool, state: str | None, as_json: bool
) -> int:
    missing = no_history(state, "trigger history")
    if missing is not None:
        click.echo(missing, err=True)
        return 0

    async def fetch() -> list[TriggerState]:
        store = open_store(state, app.pm)
        try:
            return await trigger_states(store, recipes)
        finally:
            await store.close()

    found = asyncio.run(fetch())
    now = time.time()
    alerting = [each for each in found if each.alert(now)]
    if as_json or not sys.stdout.isatty():
        for each in found:
            click.echo(json.dumps(_data(each, now), default=str))
    else:
        _table(found, now)
    return 1 if check and alerting else 0


def _data(state: TriggerState, now: float) -> dict[str, Any]:
    return {
        "recipe": state.recipe,
        "trigger": state.trigger,
        "kind": state.kind,
        "polled_by": state.polled_by(now),
        "held_until": state.held_until if state.polled_by(now) else None,
        "last_cycle": state.cycle_started,
        "last_cycle_finished": state.cycle_finished,
        "records": state.records,
        "watermark": state.watermark,
        "watermark_moved_at": state.watermark_moved_at,
        "last_event_at": state.last_event_at,
        "lag_seconds": state.lag(now),
        "quiet_seconds": state.quiet_for(now),
        "alert_after": state.alert_after,
        "last_error": state.error,
        "last_error_at": state.error_at,
        "alert": state.alert(now),
        "paused_at": state.paused_at,
        "paused_by": state.paused_by,
    }


def _table(found: list[TriggerState], now: float) -> None:
    console = Console()
    if not found:
        console.print("no triggers served yet (hookline serve registers them)")
        return
    table = Table(
        "recipe", "trigger", "polled by", "last cycle", "watermark", "lag", "quiet",
        "last error", "alert", "paused", box=None, show_edge=False,
    )  # fmt: skip
    for each in found:
        lag = each.lag(now)
        quiet = each.quiet_for(now)
        last = (
            "webhook"
            if each.kind == "webhook"
            else _ago(each.cycle_started, now) + (f", {each.records} read" if each.records else "")
        )
        error = "" if each.error is None else _short(str(each.error))
        table.add_row(
            each.recipe,
            each.trigger,
            _holder(each, now),
            last,
            "" if each.watermark is None else _short(json.dumps(each.watermark, default=str)),
            "" if lag is None else duration(lag),
            "" if quiet is None else duration(quiet),
            Text(error, style="red"),
            Text(each.alert(now) or "", style="bold red"),
            "" if each.paused_at is None else f"{_ago(each.paused_at, now)} by {each.paused_by}",
        )
    console.print(table)


def _holder(state: TriggerState, now: float) -> str:
    if state.kind != "poll":
        return ""
    holder = state.polled_by(now)
    return "nobody" if holder is None else holder.rpartition("/")[0]


def _ago(moment: float | None, now: float) -> str:
    return "never" if moment is None else f"{duration(now - moment)} ago"


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
