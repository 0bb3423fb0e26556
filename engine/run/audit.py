"""What operators did to jobs: reruns, replays, resolutions, with who and when.

Each action on a job (from ``hookline jobs``, ``hookline replay`` or the console) is a row
of ``job_actions`` kept beside the job's history: ``hookline jobs show`` and the console's
job page list them. ``actor`` names who acted: the console's signed-in operator, or the
user and host a command ran as.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hookline.run.store import SqlCursor, SqlStore, dump, load


@dataclass(frozen=True, slots=True)
class JobAction:
    """One operator action on a job: what (``rerun``, ``replay``, ``resolve``), who, when."""

    job_id: str
    action: str
    actor: str
    at: float
    detail: Mapping[str, Any] | None = None

    def data(self) -> dict[str, Any]:
        """The action as JSON-shaped data."""
        return {"action": self.action, "actor": self.actor, "at": self.at,
                "detail": self.detail}  # fmt: skip


def command_actor() -> str:
    """Who a command acts as: ``user@host (cli)``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} (cli)"


async def record_action(
    store: SqlStore,
    job_id: str,
    action: str,
    actor: str,
    detail: Mapping[str, Any] | None = None,
) -> JobAction:
    """Add an action to a job's history."""
    done = JobAction(job_id, action, actor, time.time(), detail)

    def work(cur: SqlCursor) -> None:
        cur.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM job_actions WHERE job_id = ?",
                    (job_id,))  # fmt: skip
        seq = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO job_actions (job_id, seq, action, actor, at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, seq, action, actor, done.at, dump(detail)),
        )

    await store.transaction(work)
    return done


async def job_actions(store: SqlStore, job_id: str) -> list[JobAction]:
    """A job's actions, oldest first."""

    def work(cur: SqlCursor) -> list[JobAction]:
        cur.execute("SELECT action, actor, at, detail FROM job_actions WHERE job_id = ? "
                    "ORDER BY seq", (job_id,))  # fmt: skip
        return [JobAction(job_id, row[0], row[1], row[2], load(row[3])) for row in cur.fetchall()]

    return await store.transaction(work)
