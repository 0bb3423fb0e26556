"""The console's Starlette app: pages, their confirmed actions, and the same data as JSON.

Pages (server-rendered with Jinja2, a small script for live lists and local times):
``/`` recipes and triggers, ``/jobs`` (filtered, paged), ``/jobs/{id}``, ``/connections``,
``/login``. Each action is a form that a confirmation page shows first (``GET`` the
action's URL), then ``POST``\\ ed with the session's CSRF token: pause and resume a trigger,
rerun, replay and resolve a job, test a connection. ``/api/...`` answers the same data as
JSON and takes the same actions, for scripts with ``Authorization: Bearer <token>`` or for
the pages' own script with the session. The operations themselves are
``hookline.run.operations``, the ones the command line runs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from hookline.actions.checks import check_connection
from hookline.errors import ConfigurationError, HooklineError, UnknownNameError
from hookline.run import operations
from hookline.run.console.auth import (
    COOKIE,
    Guard,
    Operator,
    TooManyTries,
    address,
    csrf_token,
    own_origin,
    same_origin,
    set_session_cookie,
)
from hookline.run.console.data import (
    STATUSES,
    JobFilter,
    TestResult,
    connection_rows,
    find_connection,
    job_detail,
    job_rows,
    recipe_rows,
)

if TYPE_CHECKING:
    from hookline.run.serve import Service

STATIC = frozenset({"console.css", "console.js"})
JOB_ACTIONS = ("rerun", "replay", "resolve")
TRIGGER_ACTIONS = ("pause", "resume")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Sent with every page and answer: no framing, no inline script, nothing cached."""

DONE = {
    "rerun": "The job runs again; this page follows it.",
    "replay": "The event was queued again as this new job.",
    "resolve": "The job is resolved.",
    "pause": "The trigger is paused: no polls, and its jobs wait until it is resumed.",
    "resume": "The trigger is resumed; its waiting jobs run.",
    "test": "The connection test ran; its result is below.",
}
"""What a page says after an action (by a fixed name, never text from the URL)."""


class WebConsole:
    """The web console of one ``Service``, guarded by ``guard``."""

    def __init__(self, service: Service, guard: Guard) -> None:
        self.service = service
        self.guard = guard
        self.tests: dict[str, TestResult] = {}
        self.templates = Environment(
            loader=PackageLoader("hookline.run.console", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["pretty"] = _pretty

    def app(self) -> Starlette:
        """The ASGI app, to mount at ``/``."""
        page, api = self._page, self._api
        return Starlette(
            routes=[
                Route("/static/{name}", self.static, methods=["GET"]),
                Route("/login", self.login_page, methods=["GET"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"]),
                Route("/", page(self.recipes_page), methods=["GET"]),
                Route("/jobs", page(self.jobs_page), methods=["GET"]),
                Route("/jobs/{job}", page(self.job_page), methods=["GET"]),
                Route("/connections", page(self.connections_page), methods=["GET"]),
                Route("/jobs/{job}/{action}", page(self.confirm_job), methods=["GET"]),
                Route("/jobs/{job}/{action}", page(self.act_on_job), methods=["POST"]),
                Route("/recipes/{recipe}/{action}", page(self.confirm_trigger), methods=["GET"]),
                Route("/recipes/{recipe}/{action}", page(self.act_on_trigger), methods=["POST"]),
                Route("/connections/{name}/test", page(self.act_test), methods=["POST"]),
                Route("/api/recipes", api(self.api_recipes), methods=["GET"]),
                Route("/api/jobs", api(self.api_jobs), methods=["GET"]),
                Route("/api/jobs/{job}", api(self.api_job), methods=["GET"]),
                Route("/api/connections", api(self.api_connections), methods=["GET"]),
                Route("/api/jobs/{job}/{action}", api(self.api_job_action), methods=["POST"]),
                Route("/api/recipes/{recipe}/{action}", api(self.api_trigger), methods=["POST"]),
                Route("/api/connections/{name}/test", api(self.api_test), methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------ access

    def _page(
        self, handler: Callable[[Request, Operator, Mapping[str, Any]], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A page handler behind the login: sign-in first, CSRF on every POST."""

        async def guarded(request: Request) -> Response:
            try:
                who = await self.guard.operator(request)
            except TooManyTries as exc:
                return _retry_later(self.render(request, "error.html", None, status=429,
                                                message=f"{exc}."), exc)  # fmt: skip
            if who is None:
                if request.method != "GET":
                    return self.render(request, "error.html", None, status=403,
                                       message="Sign in first.")  # fmt: skip
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return _headers(
                    RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                )
            form: Mapping[str, Any] = {}
            if request.method == "POST":
                form = await request.form()
                refusal = self.guard.refusal(request, who, form)
                if refusal is not None:
                    return self.render(request, "error.html", who, status=403, message=refusal)
            try:
                return await handler(request, who, form)
            except HooklineError as exc:
                return self.render(request, "error.html", who, status=_status(exc),
                                   message=str(exc))  # fmt: skip

        return guarded

    def _api(
        self, handler: Callable[[Request, Operator, Mapping[str, Any]], Awaitable[Any]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A JSON handler: a bearer token or a session (with CSRF on every POST)."""

        async def guarded(request: Request) -> Response:
            try:
                who = await self.guard.operator(request)
            except TooManyTries as exc:
                return _retry_later(_json({"error": str(exc)}, 429), exc)
            if who is None:
                return _json({"error": "sign in, or send Authorization: Bearer <token>"}, 401)
            form: Mapping[str, Any] = {}
            if request.method == "POST":
                form = await _body(request)
                refusal = self.guard.refusal(request, who, form)
                if refusal is not None:
                    return _json({"error": refusal}, 403)
            try:
                return _json(await handler(request, who, form))
            except HooklineError as exc:
                return _json({"error": str(exc)}, _status(exc))

        return guarded

    async def static(self, request: Request) -> Response:
        """The stylesheet and the script (package data; no sign-in needed)."""
        name = request.path_params["name"]
        if name not in STATIC:
            return _headers(Response("not found", status_code=404))
        response = FileResponse(Path(__file__).parent / "static" / name)
        return _headers(response)

    async def login_page(self, request: Request) -> Response:
        """The sign-in form."""
        return self.render(request, "login.html", None, target=_target(request.query_params))

    async def login(self, request: Request) -> Response:
        """Exchange the operator token for a session cookie."""
        form = await request.form()
        target = _target(form)
        if not same_origin(request):
            return self.render(request, "login.html", None, status=403, target=target,
                               message="The sign-in did not come from this page.")  # fmt: skip
        token, name = str(form.get("token") or ""), str(form.get("name") or "").strip()
        try:
            matches = bool(token) and self.guard.token_matches(token, address(request))
        except TooManyTries as exc:
            return _retry_later(self.render(request, "login.html", None, status=429,
                                            target=target, message=f"{exc}."), exc)  # fmt: skip
        if not matches:
            return self.render(request, "login.html", None, status=401, target=target,
                               message="That is not the operator token.")  # fmt: skip
        session = await self.guard.open_session((name or "operator")[:80] + " (console)")
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, request, session)
        return _headers(response)

    async def logout(self, request: Request) -> Response:
        """End the session (a POST from the console's own page)."""
        session = request.cookies.get(COOKIE)
        if session and same_origin(request):
            form = await request.form()
            if str(form.get("csrf") or "") == csrf_token(session):
                await self.guard.end_session(session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return _headers(response)

    # ------------------------------------------------------------ pages

    async def recipes_page(self, request: Request, who: Operator, form: Any) -> Response:
        """Recipes and their triggers."""
        rows = await recipe_rows(self.service, own_origin(request))
        return self.render(request, "recipes.html", who, rows=rows)

    async def jobs_page(self, request: Request, who: Operator, form: Any) -> Response:
        """Jobs, filtered and paged."""
        chosen = JobFilter.of(request.query_params)
        found = await job_rows(self.service, chosen)
        return self.render(
            request, "jobs.html", who, chosen=chosen, statuses=STATUSES,
            recipes=sorted(self.service.recipes), **found,
        )  # fmt: skip

    async def job_page(self, request: Request, who: Operator, form: Any) -> Response:
        """One job in full."""
        job = await job_detail(self.service, request.path_params["job"])
        return self.render(request, "job.html", who, job=job)

    async def connections_page(self, request: Request, who: Operator, form: Any) -> Response:
        """The open connections."""
        rows = await connection_rows(self.service, self.tests)
        return self.render(request, "connections.html", who, rows=rows)

    async def confirm_job(self, request: Request, who: Operator, form: Any) -> Response:
        """The confirmation step of a job action."""
        action = _chosen(request, JOB_ACTIONS)
        job = await job_detail(self.service, request.path_params["job"])
        return self.render(request, "confirm.html", who, action=action, job=job,
                           target=f"/jobs/{job['id']}/{action}")  # fmt: skip

    async def act_on_job(self, request: Request, who: Operator, form: Any) -> Response:
        """Rerun, replay or resolve a job, confirmed."""
        done = await self.job_action(request, who, form)
        return _headers(RedirectResponse(f"/jobs/{done['job']}?done={done['action']}", 303))

    async def confirm_trigger(self, request: Request, who: Operator, form: Any) -> Response:
        """The confirmation step of pausing or resuming a trigger."""
        action = _chosen(request, TRIGGER_ACTIONS)
        recipe = self._served(request.path_params["recipe"])
        return self.render(request, "confirm.html", who, action=action, recipe=recipe,
                           target=f"/recipes/{recipe}/{action}")  # fmt: skip

    async def act_on_trigger(self, request: Request, who: Operator, form: Any) -> Response:
        """Pause or resume a trigger, confirmed."""
        done = await self.trigger_action(request, who, form)
        return _headers(RedirectResponse(f"/?done={done['action']}", status_code=303))

    async def act_test(self, request: Request, who: Operator, form: Any) -> Response:
        """Test a connection."""
        await self.test(request, who, form)
        return _headers(RedirectResponse("/connections?done=test", status_code=303))

    # ------------------------------------------------------------ the API

    async def api_recipes(self, request: Request, who: Operator, form: Any) -> Any:
        """Recipes and their triggers."""
        return {"recipes": await recipe_rows(self.service, own_origin(request))}

    async def api_jobs(self, request: Request, who: Operator, form: Any) -> Any:
        """Jobs, filtered and paged."""
        return await job_rows(self.service, JobFilter.of(request.query_params))

    async def api_job(self, request: Request, who: Operator, form: Any) -> Any:
        """One job in full."""
        return await job_detail(self.service, request.path_params["job"])

    async def api_connections(self, request: Request, who: Operator, form: Any) -> Any:
        """The open connections."""
        return {"connections": await connection_rows(self.service, self.tests)}

    async def api_job_action(self, request: Request, who: Operator, form: Any) -> Any:
        """Rerun, replay or resolve a job."""
        return await self.job_action(request, who, form)

    async def api_trigger(self, request: Request, who: Operator, form: Any) -> Any:
        """Pause or resume a trigger."""
        return await self.trigger_action(request, who, form)

    async def api_test(self, request: Request, who: Operator, form: Any) -> Any:
        """Test a connection."""
        return await self.test(request, who, form)

    # ------------------------------------------------------------ actions

    async def job_action(
        self, request: Request, who: Operator, form: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Do a job action (``operations``), recorded with ``who``; what was done."""
        action = _chosen(request, JOB_ACTIONS)
        service = self.service
        job = await operations.find_job(service.store, request.path_params["job"])
        if action == "resolve":
            await operations.resolve(service.store, job, str(form.get("as") or ""), who.actor)
            return {"action": action, "job": job.id}
        if action == "replay":
            made = await operations.replay_job(service.store, job, who.actor)
            service.submit(made)
            return {"action": action, "job": made.id, "of": job.id}
        runner = service.runners.get(job.recipe)
        if runner is None:
            raise ConfigurationError(
                f"recipe {job.recipe!r} is not served here; rerun the job with `hookline jobs "
                "rerun`"
            )
        resend = str(form.get("resend") or "") in ("1", "on", "true")
        queued = await operations.requeue(
            service.store, job, runner.recipe, resend=resend, actor=who.actor
        )
        service.submit(queued, again=True)
        return {"action": action, "job": job.id}

    async def trigger_action(
        self, request: Request, who: Operator, form: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Pause or resume a served recipe's trigger; what was done."""
        action = _chosen(request, TRIGGER_ACTIONS)
        recipe = self._served(request.path_params["recipe"])
        await operations.pause(self.service.store, recipe, who.actor, paused=action == "pause")
        if action == "resume":
            await self.service.resume()  # the held jobs run now, not at the next sweep
        return {"action": action, "recipe": recipe}

    async def test(
        self, request: Request, who: Operator, form: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run a connection's test; its result (kept for the connections page)."""
        connection = find_connection(self.service, request.path_params["name"])
        try:
            passed = await check_connection(connection)
        except HooklineError as exc:
            result = TestResult(False, connection.redactor.redact(str(exc)), time.time())
        else:
            result = TestResult(True, str(passed), time.time())
        self.tests[connection.name] = result
        return {"action": "test", "connection": connection.name, "ok": result.ok,
                "message": result.message}  # fmt: skip

    def _served(self, recipe: str) -> str:
        if recipe not in self.service.recipes:
            raise UnknownNameError(f"no recipe {recipe!r} is served here")
        return recipe

    # ------------------------------------------------------------ rendering

    def render(
        self,
        request: Request,
        template: str,
        who: Operator | None,
        *,
        status: int = 200,
        **values: Any,
    ) -> Response:
        """A page from ``template``, with the operator's name and CSRF token."""
        done = DONE.get(request.query_params.get("done", ""))
        html = self.templates.get_template(template).render(
            who=who, path=request.url.path, done=done, **values
        )
        return _headers(HTMLResponse(html, status_code=status))


def _headers(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response


def _status(exc: HooklineError) -> int:
    """404 for what is not there, 409 for an action that cannot be done."""
    return 404 if isinstance(exc, UnknownNameError) else 409


def _json(data: Any, status: int = 200) -> Response:
    return _headers(JSONResponse(data, status_code=status))


def _retry_later(response: Response, refused: TooManyTries) -> Response:
    response.headers["Retry-After"] = str(math.ceil(refused.seconds))
    return response


async def _body(request: Request) -> Mapping[str, Any]:
    """A POST's values: a JSON object or a form."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return await request.form()


def _chosen(request: Request, known: tuple[str, ...]) -> str:
    action = str(request.path_params["action"])
    if action not in known:
        raise ConfigurationError(f"no action {action!r} here (known: {', '.join(known)})")
    return action


def _target(values: Mapping[str, Any]) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    target = str(values.get("next") or "/")
    ours = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ours else "/"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)
