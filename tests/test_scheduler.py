"""When poll triggers poll: intervals, cron in a time zone, missed slots, jitter, no overlap."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hookline.run.scheduler import Cron, Every, Timetable, default_jitter


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_an_interval_polls_at_once_the_first_time_then_every_interval() -> None:
    every = Every(300)
    now = at("2025-03-01T10:00:00")
    assert every.next_slot(None, now) == now
    assert every.next_slot(now - 100, now) == now + 200


def test_an_interval_missed_many_times_polls_once_now() -> None:
    every = Every(60)
    now = at("2025-03-01T10:00:00")
    assert every.next_slot(now - 86400, now) == now


def test_cron_waits_for_its_next_slot_once_it_has_polled_in_the_current_one() -> None:
    cron = Cron.of("*/15 * * * *", None)
    now = at("2025-03-01T10:07:00")
    assert cron.next_slot(at("2025-03-01T10:00:30"), now) == at("2025-03-01T10:15:00")


def test_cron_polls_a_missed_slot_once_on_start() -> None:
    cron = Cron.of("0 * * * *", None)
    now = at("2025-03-01T10:07:00")
    assert cron.next_slot(at("2025-02-27T08:00:00"), now) == now
    assert cron.next_slot(None, now) == now  # never polled: poll now


def test_cron_is_read_in_the_recipe_time_zone_across_daylight_saving() -> None:
    cron = Cron.of("30 8 * * *", "Europe/Oslo")
    before = at("2025-03-29T09:00:00", "Europe/Oslo")  # the day before clocks go forward
    slot = cron.next_slot(before - 60, before)
    assert datetime.fromtimestamp(slot, ZoneInfo("Europe/Oslo")).isoformat() == (
        "2025-03-30T08:30:00+02:00"
    )
    assert datetime.fromtimestamp(slot, UTC).hour == 6
    assert str(cron) == "cron '30 8 * * *' (Europe/Oslo)"


def test_default_jitter_is_a_tenth_of_the_interval_at_most_30_seconds() -> None:
    now = at("2025-03-01T10:00:00")
    assert default_jitter(Every(60), now) == 6
    assert default_jitter(Every(3600), now) == 30
    assert default_jitter(Cron.of("*/5 * * * *", None), now) == 30


def test_jitter_delays_a_slot_by_at_most_the_jitter() -> None:
    async def cycle() -> None:
        return None

    now = at("2025-03-01T10:00:00")
    table = Timetable("t", Every(600), cycle, last=now - 300, jitter=20, rng=random.Random(1))
    delays = [table.due(now) - now - 300 for _ in range(200)]
    assert min(delays) >= 0 and max(delays) <= 20 and max(delays) > 10
    table.last = now - 900  # a missed slot is polled at once, without jitter
    assert table.due(now) == now


def test_cycles_of_one_trigger_never_overlap_and_stop_when_asked() -> None:
    running = 0
    most = 0
    count = 0

    async def cycle() -> None:
        nonlocal running, most, count
        running += 1
        most = max(most, running)
        count += 1
        await asyncio.sleep(0.05)  # longer than the interval
        running -= 1

    async def main() -> None:
        stop = asyncio.Event()
        table = Timetable("t", Every(0.01), cycle, jitter=0)
        loop = asyncio.create_task(table.run(stop))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(loop, 1)

    asyncio.run(main())
    assert most == 1 and count >= 3
