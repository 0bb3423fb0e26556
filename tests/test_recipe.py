"""Loading recipes, and the static checks that refuse a recipe before anything is sent."""

from __future__ import annotations

import pydoc
from pathlib import Path

import pytest

from hookline.errors import Problem, RecipeError
from hookline.recipes.load import load_recipe
from hookline.recipes.model import (
    ActionStep,
    CallStep,
    EventTrigger,
    ForEachStep,
    IfStep,
    ManualTrigger,
    Recipe,
    SetStep,
    StopStep,
)
from hookline.run.connections import load_connections
from hookline.spec.catalog import Catalog
from tests.recipe_kit import tracker_catalog, write

ENV = {"TRACKER_URL": "http://127.0.0.1:9", "TRACKER_TOKEN": "t"}

VALID = """\
recipe: r
connections:
  tracker:
    connector: tracker
    base_url: "{{ env.TRACKER_URL }}"
    token: "{{ env.TRACKER_TOKEN }}"
trigger:
  event: tracker.new_ticket
  every: 5m
steps:
  - id: ticket
    action: tracker.get_ticket
    with: {id: "{{ trigger.id }}"}
  - id: tickets
    action: tracker.list_tickets
  - id: each
    for_each: "{{ steps.tickets }}"
    as: listed
    concurrency: 2
    steps:
      - id: note
        action: tracker.add_comment
        with: {id: "{{ listed.id }}", text: "about {{ trigger.title }}"}
  - if: "{{ steps.ticket.priority == 'high' }}"
    then:
      - set: {seen: "{{ steps.each[*].note.id }}"}
    else:
      - stop: {status: skipped, message: "low {{ trigger.priority }}"}
  - action: tracker.touch
    with: {key: "{{ vars.seen[0] || 'none' }}"}
    retry: {attempts: 3, backoff: 0.5}
    on_error:
      - action: tracker.add_comment
        with: {id: 1, text: "{{ error.message }}"}
outputs:
  first: "{{ steps.tickets[0].title }}"
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def load(catalog: Catalog, text: str, name: str = "r.yaml") -> Recipe:
    return load_recipe(write(Path("."), name, text), catalog, env=ENV)


def problems(catalog: Catalog, text: str, name: str = "r.yaml") -> list[str]:
    with pytest.raises(RecipeError) as info:
        load(catalog, text, name)
    return [str(problem) for problem in info.value.problems]


def test_an_unset_variable_with_a_fallback_is_not_an_error(catalog: Catalog) -> None:
    text = VALID.replace(
        'base_url: "{{ env.TRACKER_URL }}"',
        "base_url: \"{{ env.TRACKER_HOST || 'http://127.0.0.1:9' }}\"",
    )
    assert text != VALID
    load(catalog, text)


def test_by_default_a_recipe_reads_the_process_environment_which_help_does_not_print(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(Path("."), "r.yaml", VALID)
    monkeypatch.delenv("TRACKER_URL", raising=False)
    with pytest.raises(RecipeError, match="TRACKER_URL"):
        load_recipe(path, catalog)
    monkeypatch.setenv("TRACKER_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TRACKER_TOKEN", "sk-env-secret")
    assert load_recipe(path, catalog).name == "r"
    page = pydoc.render_doc(load_recipe)
    assert "sk-env-secret" not in page and "env: 'Mapping[str, str] | None' = os.environ" in page


def test_a_valid_recipe_compiles_into_the_model(catalog: Catalog) -> None:
    recipe = load(catalog, VALID)
    assert recipe.name == "r" and recipe.connections["tracker"].connector == "tracker"
    trigger = recipe.trigger
    assert isinstance(trigger, EventTrigger)
    assert (trigger.event, trigger.every) == ("tracker.new_ticket", 300.0)
    first, _, loop, branch, last = recipe.steps
    assert isinstance(first, ActionStep) and first.label == "tracker.get_ticket"
    assert isinstance(loop, ForEachStep) and (loop.item, loop.concurrency) == ("listed", 2)
    assert isinstance(branch, IfStep)
    assert isinstance(branch.then[0], SetStep) and isinstance(branch.otherwise[0], StopStep)
    assert branch.then[0].path == ("steps", 3, "then", 0)
    assert isinstance(last, ActionStep) and last.retry is not None
    assert (last.retry.attempts, last.retry.backoff, last.on_error) == (3, 0.5, "steps")
    assert set(recipe.outputs) == {"first"}


@pytest.mark.parametrize(
    ("written", "replacement", "message"),
    [
        (
            "connector: tracker",
            "connector: trackr",
            "r.yaml:4:16: connections.tracker.connector: unknown connector 'trackr' "
            "(did you mean 'tracker'?)",
        ),
        (
            "action: tracker.get_ticket",
            "action: trakcer.get_ticket",
            "r.yaml:12:13: steps[0].action: unknown connection 'trakcer' (did you mean "
            "'tracker'?); the recipe's connections: tracker",
        ),
        (
            "action: tracker.get_ticket",
            "action: tracker.get_tiket",
            "r.yaml:12:13: steps[0].action: connector 'tracker' has no action 'get_tiket' "
            "(did you mean 'get_ticket'?)",
        ),
        (
            "event: tracker.new_ticket",
            "event: tracker.new_tickets",
            "r.yaml:8:10: trigger.event: connector 'tracker' has no trigger 'new_tickets' "
            "(did you mean 'new_ticket'?)",
        ),
        (
            'with: {id: "{{ trigger.id }}"}',
            'with: {idd: "{{ trigger.id }}"}',
            "r.yaml:13:12: steps[0].with: tracker.get_ticket: unknown input 'idd' (did you mean "
            "'id'?)",
        ),
        (
            'with: {id: "{{ trigger.id }}"}',
            "with: {}",
            "r.yaml:13:11: steps[0].with: tracker.get_ticket: missing required input 'id'",
        ),
        (
            'with: {id: "{{ trigger.id }}"}',
            'with: {id: "12"}',
            "r.yaml:13:16: steps[0].with.id: tracker.get_ticket: expected an integer, got a "
            "string ('12')",
        ),
        (
            'with: {id: "{{ trigger.id }}"}',
            'with: {id: "{{ trigger.title }}"}',
            "r.yaml:13:16: steps[0].with.id: input 'id' of tracker.get_ticket expects an "
            "integer, but '{{ trigger.title }}' gives text",
        ),
        (
            '"about {{ trigger.title }}"',
            '"about {{ trigger.subjct }}"',
            "r.yaml:23:45: steps[2].steps[0].with.text: trigger.subjct: the tracker.new_ticket "
            "event has no field 'subjct'; its fields are id, priority, title, updated",
        ),
        (
            '"{{ error.message }}"',
            '"{{ error.mesage }}"',
            "r.yaml:34:29: steps[4].on_error[0].with.text: error.mesage: error has no field "
            "'mesage' (did you mean 'message'?); its fields are kind, message, step",
        ),
        (
            "\"{{ steps.ticket.priority == 'high' }}\"",
            "\"{{ steps.tiket.priority == 'high' }}\"",
            "r.yaml:24:9: steps[3].if: steps.tiket.priority: no step has the id 'tiket' "
            "(did you mean 'ticket'?)",
        ),
        (
            'with: {id: "{{ trigger.id }}"}',
            'with: {id: "{{ steps.tickets[0].id }}"}',
            "r.yaml:13:16: steps[0].with.id: steps.tickets[0].id: step 'tickets' runs later "
            "(steps[1]); a step reads only the steps before it",
        ),
        (
            'with: {id: "{{ trigger.id }}"}',
            'with: {id: "{{ steps.ticket.id }}"}',
            "r.yaml:13:16: steps[0].with.id: steps.ticket.id: step 'ticket' cannot read its own "
            "output",
        ),
        (
            '"{{ steps.tickets[0].title }}"',
            '"{{ steps.note.text }}"',
            "r.yaml:36:10: outputs.first: steps.note.text: step 'note' runs inside the for_each "
            "at steps[2]; read it as steps.each[*].note",
        ),
        (
            '"{{ steps.tickets[0].title }}"',
            '"{{ steps.tickets.title }}"',
            "r.yaml:36:10: outputs.first: steps.tickets.title: steps.tickets is a list, which "
            "has no field 'title'",
        ),
        (
            "\"{{ vars.seen[0] || 'none' }}\"",
            '"{{ vars.sen }}"',
            "r.yaml:30:17: steps[4].with.key: vars.sen: no variable 'sen' is set before this "
            "point (did you mean 'seen'?)",
        ),
        (
            'base_url: "{{ env.TRACKER_URL }}"',
            'base_url: "{{ env.TRACKER_HOST }}"',
            "r.yaml:5:15: connections.tracker.base_url: env.TRACKER_HOST: the environment "
            "variable 'TRACKER_HOST' is not set",
        ),
        (
            '"about {{ trigger.title }}"',
            '"about {{ trigr.title }}"',
            "r.yaml:23:45: steps[2].steps[0].with.text: trigr.title: unknown name 'trigr' (did "
            "you mean 'trigger'?); here an expression reads env, listed, steps, trigger, vars",
        ),
        (
            'for_each: "{{ steps.tickets }}"',
            'for_each: "{{ steps.ticket }}"',
            "r.yaml:17:15: steps[2].for_each: for_each needs a list, but '{{ steps.ticket }}' "
            "gives a mapping",
        ),
        (
            "if: \"{{ steps.ticket.priority == 'high' }}\"",
            'if: "priority is {{ steps.ticket.priority }}"',
            "r.yaml:24:9: steps[3].if: if takes one {{ expression }}, e.g. "
            "\"{{ trigger.priority == 'high' }}\"",
        ),
        (
            "every: 5m",
            "cron: '61 * * *'",
            "r.yaml:9:9: trigger.cron: '61 * * *' is not a cron expression that ever fires: "
            "five fields "
            "(minute hour day month weekday) of numbers, *, ranges, lists and steps, "
            "e.g. '*/15 * * * *'",
        ),
        (
            "every: 5m",
            "cron: '0 0 31 2 *'",
            "r.yaml:9:9: trigger.cron: '0 0 31 2 *' is not a cron expression that ever fires: "
            "five fields (minute hour day month weekday) of numbers, *, ranges, lists and "
            "steps, e.g. '*/15 * * * *'",
        ),
        (
            "every: 5m",
            "cron: '0 8 * * *'\n  timezone: Europe/Olso",
            "r.yaml:10:13: trigger.timezone: unknown time zone 'Europe/Olso': give an IANA "
            "name such as Europe/Oslo, America/New_York or UTC",
        ),
        (
            "every: 5m",
            "every: 5m\n  timezone: UTC",
            "r.yaml:8:3: trigger: key 'timezone' needs key 'cron' too",
        ),
        (
            "event: tracker.new_ticket\n  every: 5m",
            "event: tracker.ticket_event\n  jitter: 10s",
            "r.yaml:9:11: trigger.jitter: tracker.ticket_event is a webhook trigger: the "
            "platform sends its events, so `jitter` does not apply",
        ),
        (
            "event: tracker.new_ticket\n  every: 5m",
            "event: tracker.ticket_event\n  every: 5m",
            "r.yaml:9:10: trigger.every: tracker.ticket_event is a webhook trigger: the "
            "platform sends its events, so `every` does not apply",
        ),
        (
            "      - set: {seen",
            "      - retry: {attempts: 2}\n        set: {seen",
            "r.yaml:26:16: steps[3].then[0].retry: `retry` applies to action steps only",
        ),
        (
            '    token: "{{ env.TRACKER_TOKEN }}"\n',
            "    tokn: x\n",
            "r.yaml:6:5: connections.tracker: connector 'tracker': unknown field 'tokn' (did you "
            "mean 'token'?)",
        ),
        (
            "action: tracker.get_ticket",
            "action: tracker.get_ticket\n    set: {a: 1}",
            "r.yaml:11:5: steps[0]: a step is exactly one of action, if, for_each, set, stop, "
            "recipe, switch or wait",
        ),
    ],
)
def test_each_kind_of_error_is_located(
    catalog: Catalog, written: str, replacement: str, message: str
) -> None:
    assert written in VALID
    assert message in problems(catalog, VALID.replace(written, replacement, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec: hookline/v1\nname: acme\nconnection: {}\n", "r.yaml:1:1: a connector spec, not"),
        ('{"event": "ticket.created", "data": {"id": 1}}\n', "r.yaml:1:1: not a recipe"),
        ("- a list\n", "r.yaml:1:1: not a recipe"),
    ],
    ids=["spec", "event", "list"],
)
def test_a_file_that_is_no_recipe_is_one_problem_saying_what_a_recipe_is(
    catalog: Catalog, text: str, message: str
) -> None:
    [problem] = problems(catalog, text)
    assert problem.startswith(message)
    assert problem.endswith(
        "a recipe is a mapping whose first key is `recipe: NAME`, with `trigger` and `steps`"
    )


def test_a_misspelt_first_key_is_still_named(catalog: Catalog) -> None:
    found = problems(catalog, VALID.replace("recipe: r", "recipes: r", 1))
    assert "r.yaml:1:1: unknown key 'recipes' (did you mean 'recipe'?)" in found


def test_every_problem_is_reported_at_once_in_file_order(catalog: Catalog) -> None:
    text = (
        VALID.replace("get_ticket", "get_tiket")
        .replace("trigger.title", "trigger.titel")
        .replace("vars.seen[0]", "vars.sen")
    )
    found = problems(catalog, text)
    assert [p.split(":")[1] for p in found] == ["12", "23", "30"]


def test_a_repeated_step_id_is_refused(catalog: Catalog) -> None:
    found = problems(catalog, VALID.replace("  - id: each\n", "  - id: ticket\n"))
    assert "r.yaml:16:9: steps[2].id: step id 'ticket' is used twice (first at line 11)" in found


def test_a_loop_item_may_not_hide_a_context_name(catalog: Catalog) -> None:
    found = problems(catalog, VALID.replace("as: listed", "as: trigger"))
    assert (
        "r.yaml:18:9: steps[2].as: the item name 'trigger' would hide the job's 'trigger'; "
        "choose another name"
    ) in found


MANUAL = """\
recipe: {name}
connections:
  tracker: {{connector: tracker, base_url: "{{{{ env.TRACKER_URL }}}}", token: t}}
trigger:
  manual:
    inputs:
      id: {{type: integer}}
      note: {{type: string, default: hi}}
    required: [id]
steps:
{steps}
outputs:
  said: "{{{{ inputs.note }}}}"
"""


def manual(name: str, steps: str) -> str:
    return MANUAL.format(name=name, steps=steps)


def test_manual_inputs_are_the_trigger_and_are_checked(catalog: Catalog) -> None:
    recipe = load(
        catalog, manual("m", '  - action: tracker.touch\n    with: {key: "{{ inputs.note }}"}')
    )
    assert isinstance(recipe.trigger, ManualTrigger)
    found = problems(
        catalog, manual("m", '  - action: tracker.touch\n    with: {key: "{{ inputs.nte }}"}')
    )
    assert found == [
        "r.yaml:12:17: steps[0].with.key: inputs.nte: the recipe's input has no field 'nte' "
        "(did you mean 'note'?); its fields are id, note"
    ]


def test_a_called_recipe_is_checked_as_a_step(catalog: Catalog) -> None:
    write(
        Path("."), "callee.yaml", manual("callee", "  - action: tracker.touch\n    with: {key: x}")
    )
    caller = manual(
        "caller",
        "  - id: called\n    recipe: callee.yaml\n    with: {idd: 1}\n"
        '  - action: tracker.touch\n    with: {key: "{{ steps.called.sad }}"}',
    )
    found = problems(catalog, caller)
    assert found == [
        "r.yaml:13:12: steps[0].with: recipe 'callee': unknown input 'idd' (did you mean 'id'?)",
        "r.yaml:15:17: steps[1].with.key: steps.called.sad: steps.called has no field 'sad' "
        "(did you mean 'said'?); its fields are said",
    ]


def test_a_called_recipe_reports_its_own_problems_and_must_be_manual(catalog: Catalog) -> None:
    write(Path("."), "broken.yaml", manual("broken", "  - action: tracker.tuch"))
    write(Path("."), "polled.yaml", VALID.replace("recipe: r", "recipe: polled"))
    found = problems(
        catalog,
        manual("caller", "  - recipe: broken.yaml\n    with: {id: 1}\n  - recipe: polled.yaml"),
    )
    assert found == [
        "broken.yaml:11:13: steps[0].action: connector 'tracker' has no action 'tuch' (did you "
        "mean 'touch'?)",
        "r.yaml:13:13: steps[1].recipe: recipe 'polled' has a trigger event; a recipe called as "
        "a step must have a manual trigger",
    ]


def test_a_recipe_that_calls_itself_is_refused(catalog: Catalog) -> None:
    write(Path("."), "b.yaml", manual("b", "  - recipe: a.yaml\n    with: {id: 1}"))
    found = problems(catalog, manual("a", "  - recipe: b.yaml\n    with: {id: 1}"), "a.yaml")
    assert found == [
        "b.yaml:11:13: steps[0].recipe: the recipe calls itself (a.yaml → b.yaml → a.yaml); a "
        "recipe cannot recurse"
    ]


def test_a_named_connection_must_be_in_the_connections_file(catalog: Catalog) -> None:
    text = manual("m", "  - action: tracker.touch\n    with: {key: x}").replace(
        '{connector: tracker, base_url: "{{ env.TRACKER_URL }}", token: t}', "demo"
    )
    found = problems(catalog, text)
    assert found[0].startswith("r.yaml:3:12: connections.tracker: no connection named 'demo'")
    connections = write(
        Path("."),
        "connections.yaml",
        "demo: {connector: tracker, base_url: 'http://127.0.0.1:9', token: t}\n",
    )
    connections.chmod(0o600)
    named = load_connections(catalog, connections)
    recipe = load_recipe(Path("r.yaml"), catalog, env=ENV, connectors=named.connectors)
    assert recipe.connections["tracker"].connector == "tracker"


def test_a_call_step_holds_the_called_recipe(catalog: Catalog) -> None:
    write(
        Path("."), "callee.yaml", manual("callee", "  - action: tracker.touch\n    with: {key: x}")
    )
    recipe = load(catalog, manual("caller", "  - recipe: callee.yaml\n    with: {id: 1}"))
    step = recipe.steps[0]
    assert isinstance(step, CallStep) and step.recipe.name == "callee"
    assert [r.name for r in recipe.walk()] == ["caller", "callee"]


def test_a_connection_named_like_a_connector_stands_for_that_connector(catalog: Catalog) -> None:
    written = '\n    connector: tracker\n    base_url: "{{ env.TRACKER_URL }}"\n'
    text = VALID.replace(written + '    token: "{{ env.TRACKER_TOKEN }}"', " tracker")
    assert "tracker: tracker" in text
    connection = load(catalog, text).connections["tracker"]
    assert (connection.connector, connection.named, connection.values) == ("tracker", "tracker", {})


def test_a_connection_with_its_connector_alone_takes_the_file_entry_of_its_name(
    catalog: Catalog,
) -> None:
    text = VALID.replace(
        '    base_url: "{{ env.TRACKER_URL }}"\n    token: "{{ env.TRACKER_TOKEN }}"\n', ""
    )
    alone = load(catalog, text).connections["tracker"]
    assert (alone.connector, alone.named) == ("tracker", None)
    path = write(Path("."), "r.yaml", text)
    named = load_recipe(path, catalog, env=ENV, connectors={"tracker": "tracker"})
    assert named.connections["tracker"].named == "tracker"


def test_without_an_environment_env_references_are_checked_for_form_only(
    catalog: Catalog,
) -> None:
    path = write(Path("."), "r.yaml", VALID)
    assert load_recipe(path, catalog, env=None).name == "r"
    unset: list[Problem] = []
    load_recipe(path, catalog, env={}, unset_env=unset)
    assert [str(p) for p in unset] == [
        "r.yaml:5:15: connections.tracker.base_url: env.TRACKER_URL: the environment variable "
        "'TRACKER_URL' is not set",
        "r.yaml:6:12: connections.tracker.token: env.TRACKER_TOKEN: the environment variable "
        "'TRACKER_TOKEN' is not set",
    ]
    broken = VALID.replace("env.TRACKER_URL", "env").replace(
        '"{{ env.TRACKER_TOKEN }}"', """'{{ env."a-b" }}'"""
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(write(Path("."), "r.yaml", broken), catalog, env=None)
    assert [str(p) for p in info.value.problems] == [
        "r.yaml:5:15: connections.tracker.base_url: env: read one environment variable by its "
        "name: env.NAME",
        "r.yaml:6:12: connections.tracker.token: env.a-b: 'a-b' is not an environment variable "
        "name (letters, digits and '_', not starting with a digit)",
    ]
