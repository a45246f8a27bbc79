"""The served half of scripts/bench.py: gunicorn as the README runs it for a team,
sign-in over HTTP, timed requests, and load from wrk with a generated Lua script that
turns over (path, session cookie) pairs."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# --- The served app ----------------------------------------------------------------------


class Server:
    """gunicorn as the README runs it, in its own process group."""

    def __init__(self, url: str, secret_key: str, workers: int, log_path: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.count = workers
        # PYTHONFAULTHANDLER: a worker that crashes leaves its Python stack in the log
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret_key,
               "PYTHONFAULTHANDLER": "1"}
        env.pop("TANDEM_ENV", None)
        self.log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=5).read()  # noqa: S310
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start; see {log_path}") from None
                time.sleep(0.2)

    def workers(self) -> list[int]:
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            if re.search(rf"^PPid:\s+{self.proc.pid}$", text, re.M):
                found.append(int(status.parent.name))
        return sorted(found)

    def cpu_seconds(self) -> float:
        """User and system CPU time the workers have used so far."""
        ticks = 0
        for pid in self.workers():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def settle(self, timeout: float = 120) -> None:
        """Wait until the workers are idle: after wrk stops, they still serve the requests
        its connections left queued, which must not be counted against the next run."""
        deadline = time.monotonic() + timeout
        used = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - used < 0.02:
                return
            used = now

    def memory(self) -> list[tuple[int, float, float]]:
        """(pid, VmHWM MB, VmRSS MB) of each worker."""
        rows = []
        for pid in self.workers():
            text = Path(f"/proc/{pid}/status").read_text()
            kb = {
                k: int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1))
                for k in ("VmHWM", "VmRSS")
            }
            rows.append((pid, kb["VmHWM"] / 1024, kb["VmRSS"] / 1024))
        return rows

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def sign_in(base: str, email: str, password: str) -> str:
    """POST /login with the form's CSRF token; the session cookie ("name=value")."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"csrf_token": token, "email": email, "password": password, "next": ""}
    ).encode()
    landed = opener.open(base + "/login", data=data)
    if urllib.parse.urlsplit(landed.url).path == "/login":
        raise RuntimeError(f"sign-in as {email} failed")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def fetch(base: str, path: str, cookie: str | None = None) -> tuple[int, bytes, float]:
    headers = {"Cookie": cookie} if cookie else {}
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 (http only)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return status, body, time.perf_counter() - started


# --- Load with wrk -----------------------------------------------------------------------

LUA = """
local requests = {%s}
local counter = 0
local next_thread = 0
function setup(thread)
  thread:set("first", next_thread * 7919)
  next_thread = next_thread + 1
end
function init(args) counter = first or 0 end
function request()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  if r[2] == "" then return wrk.format("GET", r[1]) end
  return wrk.format("GET", r[1], {Cookie = r[2]})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95)))
  io.write(string.format("BENCH99 %%d\\n", latency:percentile(99)))
end
"""


def wrk(base: str, pairs: list[tuple[str, str]], seconds: int, connections: int) -> dict:
    """One wrk run over (path, cookie) pairs in turn; requests/s and latency percentiles."""
    body = ",".join(f"{{{json.dumps(p)},{json.dumps(c)}}}" for p, c in pairs)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % body)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "60s",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    n, duration, errors, bad, p50, p95 = map(
        int, re.search(r"^BENCH (.*)$", out, re.M).group(1).split()
    )
    p99 = int(re.search(r"^BENCH99 (\d+)$", out, re.M).group(1))
    return {
        "rps": n / (duration / 1e6),
        "requests": n,
        "errors": errors,
        "non2xx": bad,
        "p50": p50 / 1e6,
        "p95": p95 / 1e6,
        "p99": p99 / 1e6,
    }


def timed(base: str, path: str, cookie: str, runs: int, expect=200) -> list[float]:
    times = []
    for _ in range(runs):
        status, body, seconds = fetch(base, path, cookie)
        if status != expect:
            raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
        times.append(seconds)
    return times
