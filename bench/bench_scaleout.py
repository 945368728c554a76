"""Scale-out: validate throughput of three gunicorn workers on one Redis against one worker.

Run by hand from the repository root: ``python bench/bench_scaleout.py [--rounds 5]``.

A throwaway ``redis-server`` (free 127.0.0.1 port, temp dir, no persistence) backs two gunicorn
servers of ``bench.apps:create_app(redis_url)``: one with 1 sync worker, one with 3. Both stay up;
rounds alternate which one is driven first, and only the driven one is busy. Each round validates
fresh challenges (made in this process, straight into Redis) with the same load generator:
wrk by default (``apt-get install wrk``; 5 s per round, ``--concurrency`` connections, each body
sent once), else a lean raw-socket Python client or ``bench.harness.drive`` (``--client``). Sync
workers close every connection, so each request is a new one. The ratio of the medians is the
scale-out factor; the target on a 2-core machine is >= 1.5x.

Each round also reports where the CPU went (from /proc and getrusage: the client, wrk included,
the gunicorn workers, redis-server, and everything else on the machine) as cores busy, which says
what limits the ratio when it falls short, and whether other jobs were competing for the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import create_app  # noqa: E402
from bench.harness import drive, exchange, start_gunicorn  # noqa: E402
from flask_captcha_ext.selfhosted.service import CaptchaService  # noqa: E402
from flask_captcha_ext.state import get_state  # noqa: E402
from tests.helpers import new_challenges  # noqa: E402
from tests.support import Gunicorn, RedisServer  # noqa: E402

TARGET = 1.5
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def reaped_children_seconds() -> float:
    """CPU seconds of this process's finished children (wrk; the servers run on till the end)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def system_busy_seconds() -> float:
    """CPU seconds all processes on this machine have used (from /proc/stat)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


def children(pid: int) -> List[int]:
    """Direct children of ``pid`` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def raw_post(port: int, path: str, body: dict) -> int:
    """POST ``body`` as JSON on a new connection with a prebuilt request; the status code."""
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return exchange(port, head + payload, timeout=30)[0]


def drive_raw(port: int, path: str, bodies: Sequence[dict], concurrency: int = 4) -> float:
    """Like ``harness.drive`` (requests/s, every body once, ``concurrency`` at a time)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(lambda b: raw_post(port, path, b), bodies))
    elapsed = time.perf_counter() - start
    bad = [status for status in statuses if status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} requests to {path} failed, e.g. status {bad[0]}")
    return len(bodies) / elapsed


# wrk runs for a fixed time. Thread i sends bodies i, i + threads, ... once each; answers are
# counted as they come. A thread that runs out of bodies says so (the run needs more of them).
WRK_SCRIPT = """
local threads, next_id = {}, 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  bodies, step = {}, tonumber(args[2])
  local index = 0
  for line in io.lines(args[1]) do
    if index % step == id then bodies[#bodies + 1] = line end
    index = index + 1
  end
  sent, ok, bad, short = 0, 0, 0, 0
end
function request()
  sent = sent + 1
  local body = bodies[sent]
  if body == nil then
    short, body = 1, bodies[1]
  end
  return wrk.format("POST", args_path, {["Content-Type"] = "application/json"}, body)
end
function response(status)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary)
  local ok_all, bad_all, short_all = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_all = ok_all + thread:get("ok")
    bad_all = bad_all + thread:get("bad")
    short_all = short_all + thread:get("short")
  end
  io.write(string.format("RESULT %d %d %d %d\\n", ok_all, bad_all, short_all, summary.duration))
end
"""
WRK_SECONDS = 5


def drive_wrk(port: int, path: str, bodies: Sequence[dict], concurrency: int = 4) -> float:
    """Requests/s over ``WRK_SECONDS`` with wrk (C, epoll) as the load generator: it needs a small
    fraction of a Python client's CPU, so on 2 cores the server keeps nearly all of them. Every
    body is sent at most once; there must be more bodies than the server can answer meanwhile."""
    threads = 2
    with tempfile.TemporaryDirectory() as folder:
        script, lines = Path(folder, "validate.lua"), Path(folder, "bodies.jsonl")
        script.write_text(f"args_path = {json.dumps(path)}\n" + WRK_SCRIPT)
        lines.write_text("".join(json.dumps(body) + "\n" for body in bodies))
        command = [
            "wrk", "-t", str(threads), "-c", str(max(concurrency, threads)),
            "-d", f"{WRK_SECONDS}s", "-s", str(script), f"http://127.0.0.1:{port}{path}",
            "--", str(lines), str(threads),
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not result:
        raise RuntimeError(f"wrk printed no result: {out.stdout} {out.stderr}")
    ok, bad, short, duration_us = (int(v) for v in result[-1].split()[1:])
    if short:
        raise RuntimeError(f"wrk ran out of the {len(bodies)} bodies: raise --requests")
    if bad:
        raise RuntimeError(f"{bad} requests to {path} failed ({ok} passed)")
    return ok / (duration_us / 1e6)


CLIENTS: Dict[str, Callable[[int, str, Sequence[dict], int], float]] = {
    "http": drive,
    "raw": drive_raw,
    "wrk": drive_wrk,
}


def prepare(service: CaptchaService, count: int) -> List[dict]:
    """``count`` fresh math challenges with right answers and the proofs of their PoW parts, as
    validate bodies (not timed; each costs two PBKDF2 derivations: the challenge, its proof)."""
    key = service.site_keys.own_site_key
    return [
        {"site_key": key, "captcha_id": captcha_id, "user_input": answer, "proof": proof}
        for captcha_id, answer, proof in new_challenges(service, "math", count)
    ]


def measure(
    server: Gunicorn, redis: RedisServer, bodies: List[dict], concurrency: int, client: str
) -> Tuple[float, Dict[str, float]]:
    """Requests/s validating ``bodies`` on ``server``, and cores busy per component meanwhile."""
    assert redis.process is not None
    workers = children(server.proc.pid)
    pids = {"client": os.getpid(), "redis": redis.process.pid}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    before["workers"] = sum(cpu_seconds(pid) for pid in workers)
    before["client"] += reaped_children_seconds()
    system_before = system_busy_seconds()
    start = time.perf_counter()
    rate = CLIENTS[client](server.port, "/captcha/validate", bodies, concurrency)
    elapsed = time.perf_counter() - start
    system = (system_busy_seconds() - system_before) / elapsed
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    after["workers"] = sum(cpu_seconds(pid) for pid in workers)
    after["client"] += reaped_children_seconds()  # wrk, when it is the client
    cores = {name: (after[name] - before[name]) / elapsed for name in before}
    # Everything else on the machine (other users' jobs, the kernel's own threads).
    cores["other"] = max(0.0, system - sum(cores.values()))
    return rate, cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="validations per round (default 3000; with wrk, bodies ready per round: 20000)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="client threads (wrk: connections)"
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="wrk" if shutil.which("wrk") else "raw",
        help="load generator: wrk (default when installed: apt-get install wrk), a lean "
        "raw-socket Python client, or harness.drive (http.client)",
    )
    args = parser.parse_args()
    if args.client == "wrk" and not shutil.which("wrk"):
        parser.error("--client wrk needs wrk on PATH (apt-get install wrk)")
    if args.requests is None:
        args.requests = 20000 if args.client == "wrk" else 3000
    cpus = len(os.sched_getaffinity(0))
    with RedisServer() as redis:
        spec = f"bench.apps:create_app({redis.url!r})"
        app = create_app(redis.url)
        service = get_state(app).service
        servers = {1: start_gunicorn(spec, 1), args.workers: start_gunicorn(spec, args.workers)}
        results: Dict[int, List[float]] = {n: [] for n in servers}
        usage: Dict[int, List[Dict[str, float]]] = {n: [] for n in servers}
        print(
            f"validate on Redis {redis.url}: 1 vs {args.workers} gunicorn sync workers, "
            + (f"{WRK_SECONDS} s" if args.client == "wrk" else f"{args.requests} requests")
            + f" x {args.rounds} rounds, {args.concurrency} client "
            f"connections ({args.client} client), {cpus} CPUs",
            flush=True,
        )
        try:
            drive(servers[1].port, "/bare", [{"user_input": "x"}] * 200, args.concurrency)
            for index in range(args.rounds):
                order = sorted(servers) if index % 2 == 0 else sorted(servers, reverse=True)
                for n in order:
                    bodies = prepare(service, args.requests)
                    rate, cores = measure(servers[n], redis, bodies, args.concurrency, args.client)
                    results[n].append(rate)
                    usage[n].append(cores)
                    busy = ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
                    print(
                        f"  round {index + 1}: {n} worker(s) {rate:7.0f} req/s  "
                        f"(cores busy: {busy})",
                        flush=True,
                    )
        finally:
            for server in servers.values():
                server.stop()
    one, many = statistics.median(results[1]), statistics.median(results[args.workers])
    ratio = many / one
    verdict = "meets" if ratio >= TARGET else "misses"
    print(
        f"median: 1 worker {one:.0f} req/s, {args.workers} workers {many:.0f} req/s, "
        f"ratio {ratio:.3f}x (target >= {TARGET}x: {verdict})"
    )
    busiest_other = 0.0
    for n in servers:
        mean = {k: statistics.mean(u[k] for u in usage[n]) for k in usage[n][0]}
        total = sum(mean.values())
        parts = ", ".join(f"{k} {v:.2f}" for k, v in mean.items())
        per_core = statistics.median(results[n]) / max(mean["workers"], 1e-9)
        print(
            f"  {n} worker(s): cores busy {parts} = {total:.2f} of {cpus}; "
            f"{per_core:.0f} req/s per core the workers used"
        )
        busiest_other = max(busiest_other, mean["other"])
    if busiest_other > 0.1:
        print(
            f"WARNING: other jobs kept {busiest_other:.2f} cores busy during the run; the "
            "scheduler gives 3 workers a bigger share against them than 1, so this ratio "
            "overstates scale-out. Run again on a quiet machine."
        )


if __name__ == "__main__":
    main()
