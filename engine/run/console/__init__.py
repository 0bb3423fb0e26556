"""The web console of ``hookline serve``: recipes and triggers, jobs, connections.

``app`` holds the Starlette app (pages, confirmed actions, the JSON API), ``auth`` the
operator token, sessions and CSRF checks, ``data`` what the pages show; ``templates/`` and
``static/`` are package data. The receiver mounts the console at ``/``; its own routes
(``/hooks/...``, ``/healthz``, ``/metrics``) stay outside the console's login.
"""
