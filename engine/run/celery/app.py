"""The Celery app that ``hookline serve`` sends jobs with and ``hookline worker`` runs them in.

A message is delivered until a worker acknowledges it, and a worker acknowledges it only once
the job has ended, or ended elsewhere (``task_acks_late``): a worker that dies mid-job leaves
the message to the broker, which hands it to another worker (RabbitMQ at once, when the
connection drops; Redis once the message's visibility timeout is over), and that worker takes
the job over in the state store (``hookline.run.claims``) and resumes it. Each worker takes
one message at a time per free slot (``worker_prefetch_multiplier`` 1), so a job never waits
behind a long one on a busy worker. Messages are JSON; no result backend is used, since the
state store holds each job's outcome.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from hookline.errors import ConfigurationError, one_line
from hookline.run.store import redact_url

TASK = "hookline.run_job"
"""The name of the task that runs one job: ``(job_id, recipe)``, and ``again`` for an
operator's rerun."""

VISIBILITY_TIMEOUT = 3600
"""Seconds before Redis hands an unacknowledged message to another worker."""

PROBE_TIMEOUT = 10.0
"""Seconds a worker waits for the broker to answer its first connection."""

BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")
"""The URL schemes of the brokers jobs go through: Redis and RabbitMQ."""


def celery_app(broker: str) -> Celery:
    """The app for ``broker`` (``redis://…`` or ``amqp://…``), configured for jobs."""
    check_broker(broker)
    app = Celery("hookline", broker=broker, set_as_current=False)
    settings: dict[str, Any] = {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_default_queue": "hookline",
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT},
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_enable_remote_control": False,
    }
    app.conf.update(settings)
    return app


def check_broker(broker: str) -> None:
    """Refuse a broker URL that is not Redis's or RabbitMQ's, before anything starts.

    Celery would take a URL without ``SCHEME://`` (``redis:/host``) for the host name of
    an AMQP broker and try to reach it forever, and an unknown scheme fails only at the first
    send, with a traceback. The URL itself is not repeated: it may hold a password.
    """
    scheme, sep, _ = broker.partition("://")
    if not sep or scheme.lower() not in BROKER_SCHEMES:
        raise ConfigurationError(
            "the broker URL (--broker or $HOOKLINE_BROKER) must begin with "
            f"{', '.join(s + '://' for s in BROKER_SCHEMES)}: redis://HOST:6379/0 or "
            "amqp://USER:PASSWORD@HOST:5672//"
        )


def refuse_unusable_broker(app: Celery) -> None:
    """Connect to ``app``'s broker once and raise if it refuses the worker for good (a wrong
    password, a virtual host it lacks), which Celery would otherwise end the worker on with
    a traceback. A broker down or unreachable is left to Celery, which waits for it."""
    connection = app.connection_for_read(connect_timeout=PROBE_TIMEOUT)
    try:
        connection.connect()
    except connection.recoverable_connection_errors:
        pass
    except Exception as exc:
        raise ConfigurationError(
            f"the broker at {redact_url(str(app.conf.broker_url))} refused this worker: "
            f"{one_line(exc).rstrip('.')}; check the user, password and virtual host of "
            "--broker (or $HOOKLINE_BROKER)"
        ) from None
    finally:
        connection.release()


def send_job(app: Celery, job_id: str, recipe: str, queue: str, *, again: bool = False) -> None:
    """Send job ``job_id`` of ``recipe`` on ``queue`` (a blocking call: run it in a thread);
    ``again``: an operator's rerun, run even while its trigger is paused."""
    app.send_task(TASK, args=(job_id, recipe), kwargs={"again": True} if again else None,
                  queue=queue)  # fmt: skip
