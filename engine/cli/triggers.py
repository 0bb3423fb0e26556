"""``hookline triggers``: what each served trigger has been doing, from the state store.

A row per trigger that ``hookline serve`` has served: the process that polls it (the holder
of its lease, ``host/pid``; nobody while no ``serve`` holds it), its last poll cycle and what
it read, its watermark (the cursor), its lag (how long ago its last successful cycle
started), when its watermark last moved or its last webhook event arrived, its last error,
and an alert when that quiet has lasted longer than the recipe's ``alert_after``.
``--check`` exits 1 when any trigger is alerting, for a monitoring job.
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

from hookline.cli.connections import state_option
from hookline.cli.run import exits, json_option
from hookline.run.cycles import TriggerState, duration, trigger_states
from hookline.run.store import open_store


@click.command("triggers")
@click.option("--recipe", "recipes", multiple=True, metavar="NAME", help="Only this recipe.")
@click.option("--check", is_flag=True, help="Exit 1 when any trigger is alerting.")
@state_option
@json_option
@click.pass_obj
@exits
def triggers(
    app: Any, recipes: tuple[str, ...], check: bool, state: str | None, as_json: bool
) -> int:
    """List each served trigger: its poller, last cycle, watermark, lag, errors, alerts."""

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
    }


def _table(found: list[TriggerState], now: float) -> None:
    console = Console()
    if not found:
        console.print("no triggers served yet (hookline serve registers them)")
        return
    table = Table(
        "recipe", "trigger", "polled by", "last cycle", "watermark", "lag", "quiet",
        "last error", "alert", box=None, show_edge=False,
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
