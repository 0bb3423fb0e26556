"""What the benchmarks share: pre-built pages, nginx serving them, and measuring a subprocess.

Not a benchmark itself; ``bench/paginate.py`` and ``bench/read_speed.py`` import it (each is
run as a script, so this folder is first on ``sys.path``). Pages are files
``ROOT/pages/SIZE/OFFSET.json`` holding ``{"data": [...], "meta": {"offset", "limit",
"total"}}``; nginx serves ``ROUTE?offset=N&limit=SIZE`` from them on 127.0.0.1, with
``sendfile`` and keep-alive, so the server does almost nothing and the clients are what is
measured.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

ROUTE = "/records"


def page_body(record: Callable[[int], Any], offset: int, size: int, total: int) -> bytes:
    """The JSON of the page at ``offset``: its records and ``meta.total``."""
    data = [record(i) for i in range(offset, min(offset + size, total))]
    meta = {"offset": offset, "limit": size, "total": total}
    return orjson.dumps({"data": data, "meta": meta})


def write_pages(root: Path, total: int, size: int, record: Callable[[int], Any]) -> Path:
    """Write every page of ``total`` records as ``root/pages/SIZE/OFFSET.json``."""
    folder = root / "pages" / str(size)
    folder.mkdir(parents=True, exist_ok=True)
    for offset in range(0, total, size):
        target = folder / f"{offset}.json"
        if not target.exists():
            target.write_bytes(page_body(record, offset, size, total))
    return folder


# ---------------------------------------------------------------- nginx


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, deadline: float) -> None:
    """Wait until something accepts connections on ``port``."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"no server answered on 127.0.0.1:{port}")


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    default_type application/json;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = {route} {{
            if ($arg_offset !~ "^[0-9]+$") {{ return 400; }}
            if ($arg_limit !~ "^[0-9]+$") {{ return 400; }}
            try_files /pages/$arg_limit/$arg_offset.json =404;
        }}
    }}
}}
"""


@contextmanager
def nginx(root: Path) -> Iterator[str]:
    """Serve the pages below ``root`` with nginx on 127.0.0.1; yield the base URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is needed: apt-get install -y nginx-light")
    port = free_port()
    (root / "tmp").mkdir(exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port, route=ROUTE))
    for path in [root, *root.rglob("*")]:  # nginx workers run as nobody when started as root
        path.chmod(0o755 if path.is_dir() else 0o644)
    process = subprocess.Popen(
        [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(port, time.monotonic() + 10)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- measuring


def wait_rusage(process: subprocess.Popen[bytes], deadline: float) -> tuple[int, float, float]:
    """Wait for ``process`` (killing it past ``deadline``); exit status, peak RSS, CPU time.

    Peak RSS (MiB) is the process's own ``ru_maxrss``, CPU the user and system seconds it
    spent, both from ``os.wait4``.
    """
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            return process.returncode, usage.ru_maxrss / 1024, cpu
        if time.monotonic() > deadline:
            process.kill()
        time.sleep(0.005)


def machine() -> str:
    """A line describing this machine and the software measured."""
    import httpx

    cpu = "unknown cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx_version = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, check=False, timeout=10
    ).stderr.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; {platform.platform()}; "
        f"Python {platform.python_version()}; httpx {httpx.__version__}; "
        f"orjson {orjson.__version__}; {nginx_version}"
    )
