"""hookline's test kit: test a connector through the real runtime, live or from cassettes.

Installed with hookline as a pytest plugin (``hookline.testing.plugin``: the fixtures
``hookline_catalog``, ``served``, ``cassette`` and ``clock``), and behind
``hookline test CONNECTOR``. The pieces:

- ``serve`` and ``Served``: a sandbox on a free loopback port and connections to it.
- ``taped`` and ``Taped``: connections whose exchanges are recorded to a cassette file,
  secrets scrubbed, or replayed from it with nothing served.
- ``check_examples``, ``check_described``, ``run_examples``, ``replay_examples``: a spec's
  promises held to its schemas, to a sandbox, to its cassettes.
- ``poll_once``, ``simulate_polls``: poll triggers over one cycle or many.
- ``Clock``: time that moves when the test says, for sandboxes and the rate limiter.
"""

from hookline.testing.cassettes import Cassette, Scrubber
from hookline.testing.checks import ExampleRun, check_described, check_examples, run_example
from hookline.testing.clock import Clock
from hookline.testing.harness import Harness
from hookline.testing.polls import PollSimulation, poll_once, simulate_polls
from hookline.testing.served import Served, serve
from hookline.testing.suite import CheckResult, check_connector, replay_examples, run_examples
from hookline.testing.tape import RecordingTransport, ReplayTransport, Taped, taped

__all__ = [
    "Cassette",
    "CheckResult",
    "Clock",
    "ExampleRun",
    "Harness",
    "PollSimulation",
    "RecordingTransport",
    "ReplayTransport",
    "Scrubber",
    "Served",
    "Taped",
    "check_connector",
    "check_described",
    "check_examples",
    "poll_once",
    "replay_examples",
    "run_example",
    "run_examples",
    "serve",
    "simulate_polls",
    "taped",
]
