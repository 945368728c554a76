"""Soak: a steady, bounded load for minutes, showing that stored state stays bounded.

Run by hand from the repository root: ``python bench/soak.py [--minutes 5] [--rate 40]``.

In-process (Flask's test client, no sockets): one driver thread per store (memory and SQLite) runs
``--rate`` user sessions a second. A session generates a challenge, then mostly answers it right
and spends the token (half through ``captcha.verify``, half through siteverify), sometimes answers
wrong, replays a spent token, or walks away (the challenge must expire). TTLs are short (default
challenge 5 s, token 10 s), so after a warm-up of about one TTL plus a purge interval, the number
of live entries should hover around rate x TTL and never climb. Every ``--interval`` seconds it
prints the memory store's entry count (rate-limit counters included) and the SQLite file's
size, WAL size and rows (and how many of them are expired but not yet purged). A short drain phase
at a trickle of load follows, and a verdict per metric compares the last third of the run with the
first steady third.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402

from flask_captcha_ext import verification
from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair  # noqa: E402
from flask_captcha_ext.state import get_state  # noqa: E402
from tests.support import ALL_TYPES, build_app, rate_limits  # noqa: E402

SECRET = "soak-secret-0123456789abcdef0123456789"
OWN_KEY, OWN_SECRET = derived_key_pair(SECRET.encode())
HIGH = "1000000000/hour"
KINDS = ("math",) * 8 + ("pow", "image")


def create_app(store_url: str, challenge_ttl: int, token_ttl: int) -> Flask:
    """An app on ``store_url`` serving every challenge type, with short TTLs and limits too high
    to trip."""
    return build_app(
        "soak",
        instance_path=tempfile.gettempdir(),
        TESTING=True,
        SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_CHALLENGE_TTL=challenge_ttl,
        CAPTCHA_TOKEN_TTL=token_ttl,
        **rate_limits(HIGH),
    )


class Answers:
    """The answers of recent challenges and the proofs of their PoW parts, learnt server-side
    (the service's ``answer_observer``); bounded, so the soak does not leak."""

    def __init__(self, limit: int = 10_000) -> None:
        self._data: OrderedDict[str, Tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def __call__(self, captcha_id: str, answer: str, proof: str) -> None:
        with self._lock:
            self._data[captcha_id] = (answer, proof)
            while len(self._data) > self._limit:
                self._data.popitem(last=False)

    def pop(self, captcha_id: str) -> Tuple[str, str]:
        """(answer, proof) of ``captcha_id``; the proof is "" for pow."""
        with self._lock:
            return self._data.pop(captcha_id)


@dataclass
class Driver:
    """Runs user sessions against one app at a fixed rate and counts what happened."""

    name: str
    app: Flask
    counts: Dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __post_init__(self) -> None:
        self.answers = Answers()
        get_state(self.app).service.answer_observer = self.answers
        self.client = self.app.test_client()
        self.prefix = get_state(self.app).settings.url_prefix

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def session(self) -> None:
        """One visitor: generate, then answer right, wrong, or not at all; spend the token."""
        kind = self.rng.choice(KINDS)
        reply = self.client.post(
            self.prefix + "/generate", json={"site_key": OWN_KEY, "type": kind}
        )
        if reply.status_code != 200:
            self.count(f"generate {reply.status_code}")
            return
        captcha_id = reply.get_json()["captcha_id"]
        answer, proof = self.answers.pop(captcha_id)
        roll = self.rng.random()
        if roll < 0.15:
            self.count("abandoned")
            return
        if roll < 0.30:
            answer = "wrong"
        body = {"site_key": OWN_KEY, "captcha_id": captcha_id, "user_input": answer}
        if proof:
            body["proof"] = proof
        valid = self.client.post(self.prefix + "/validate", json=body).get_json()
        if not valid.get("valid"):
            self.count("wrong answer")
            return
        token = valid["token"]
        if self.rng.random() < 0.5:
            with self.app.test_request_context():
                ok = verification.verify(token).success
        else:
            reply = self.client.post(
                self.prefix + "/siteverify", data={"secret": OWN_SECRET, "response": token}
            )
            ok = reply.get_json()["success"]
        self.count("verified" if ok else "verify FAILED")
        if self.rng.random() < 0.1:
            with self.app.test_request_context():
                replayed = verification.verify(token).success
            self.count("replay PASSED" if replayed else "replay refused")

    def run(self, rate: float, until: float, stop: threading.Event) -> None:
        """Sessions at ``rate`` per second until ``until`` (monotonic); never more than due."""
        step = 1.0 / rate
        due = time.monotonic()
        while not stop.is_set() and time.monotonic() < until:
            self.session()
            due = max(due + step, time.monotonic() - 1.0)  # a stall drops sessions, no burst
            pause = due - time.monotonic()
            if pause > 0:
                stop.wait(pause)


def memory_sample(app: Flask) -> Dict[str, float]:
    """Entries in the memory store (live and not yet swept), and how many are rate-limit counters
    (kept in the store too)."""
    data = dict(get_state(app).store._data)  # a bench may look inside
    return {"entries": len(data), "limiter": sum(1 for key in data if key.startswith("rl:"))}


def sqlite_sample(path: str) -> Dict[str, float]:
    """File and WAL size (KiB), rows, and rows expired but not yet purged."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT COUNT(*) FROM captcha_store").fetchone()[0]
        expired = conn.execute(
            "SELECT COUNT(*) FROM captcha_store WHERE expires_at <= ?", (time.time(),)
        ).fetchone()[0]
    finally:
        conn.close()
    wal = path + "-wal"
    return {
        "file_kib": os.path.getsize(path) / 1024,
        "wal_kib": (os.path.getsize(wal) if os.path.exists(wal) else 0) / 1024,
        "rows": rows,
        "expired": expired,
    }


def rss_mib() -> float:
    """This process's resident memory (Linux), MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def verdict(name: str, series: List[float], bound: Optional[float], slack: float) -> str:
    """BOUNDED when the steady samples stay under ``bound`` (if given) and the last third of them
    peaks no higher than the first third (x1.5, plus ``slack`` for noise); else GROWING."""
    if len(series) < 3:
        return f"{name}: too few steady samples for a verdict"
    third = max(1, len(series) // 3)
    early_max, late_max = max(series[:third]), max(series[-third:])
    flat = late_max <= early_max * 1.5 + slack
    under = bound is None or max(series) <= bound
    word = "BOUNDED" if flat and under else "GROWING"
    limit = f", bound {bound:.0f}" if bound is not None else ""
    return (
        f"{name}: {word}  max {max(series):.0f}, steady median {statistics.median(series):.0f}, "
        f"first-third max {early_max:.0f}, last-third max {late_max:.0f}{limit}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="load phase (default 5)")
    parser.add_argument("--rate", type=float, default=40.0, help="sessions/s per store")
    parser.add_argument("--challenge-ttl", type=int, default=5)
    parser.add_argument("--token-ttl", type=int, default=10)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between reports")
    parser.add_argument("--drain", type=float, default=25.0, help="trickle phase, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file afterwards")
    args = parser.parse_args()
    if not 0 < args.minutes <= 120 or not 0 < args.rate <= 500:
        parser.error("--minutes must be in (0, 120] and --rate in (0, 500]")

    folder = tempfile.mkdtemp(prefix="captcha-soak-")
    db = os.path.join(folder, "soak.sqlite3")
    drivers = [
        Driver("memory", create_app("memory://", args.challenge_ttl, args.token_ttl)),
        Driver("sqlite", create_app("sqlite:///" + db, args.challenge_ttl, args.token_ttl)),
    ]
    load_s = args.minutes * 60
    warmup = max(args.challenge_ttl, args.token_ttl) + 5 + args.interval  # TTL + purge + slack
    # Live: abandoned challenges (15%) for their TTL, claimed tokens (70%) for theirs + 1 s.
    # Up to one sweep/purge interval (5 s) more of expired ones, and a few rate-limit counters.
    expected = args.rate * (0.15 * args.challenge_ttl + 0.7 * (args.token_ttl + 1))
    bound = args.rate * (0.15 * (args.challenge_ttl + 5) + 0.7 * (args.token_ttl + 6)) + 20
    print(
        f"soak: {args.rate:g} sessions/s per store for {args.minutes:g} min, challenge TTL "
        f"{args.challenge_ttl} s, token TTL {args.token_ttl} s; expect about {expected:.0f} "
        f"live entries per store once warm (after ~{warmup:.0f} s), at most {bound:.0f} with "
        f"expired ones not yet swept; SQLite file {db}",
        flush=True,
    )
    stop = threading.Event()
    start = time.monotonic()
    load_end = start + load_s
    threads = [
        threading.Thread(target=d.run, args=(args.rate, load_end, stop), daemon=True)
        for d in drivers
    ]
    for thread in threads:
        thread.start()

    samples: List[Dict[str, Any]] = []

    def sample(phase: str) -> None:
        row: Dict[str, Any] = {"t": time.monotonic() - start, "phase": phase, "rss": rss_mib()}
        row.update({f"mem_{k}": v for k, v in memory_sample(drivers[0].app).items()})
        row.update({f"sql_{k}": v for k, v in sqlite_sample(db).items()})
        samples.append(row)
        done = {d.name: sum(d.counts.values()) for d in drivers}
        print(
            f"[{row['t']:6.0f}s {phase:5}] memory: {row['mem_entries']:6.0f} entries, "
            f"{row['mem_limiter']:3.0f} of them rate limits | sqlite: "
            f"{row['sql_file_kib']:8.0f} KiB file, {row['sql_wal_kib']:8.0f} KiB WAL, "
            f"{row['sql_rows']:6.0f} rows ({row['sql_expired']:4.0f} expired) | "
            f"RSS {row['rss']:5.0f} MiB | sessions {done}",
            flush=True,
        )

    try:
        next_report = start + args.interval
        while time.monotonic() < load_end:
            time.sleep(max(0.0, min(next_report, load_end) - time.monotonic()))
            if time.monotonic() >= next_report:
                sample("load")
                next_report += args.interval
        for thread in threads:
            thread.join(timeout=30)
        # Drain: a trickle of sessions (1/s) keeps the purge running while entries expire.
        drain_end = time.monotonic() + args.drain
        trickle = [
            threading.Thread(target=d.run, args=(1.0, drain_end, stop), daemon=True)
            for d in drivers
        ]
        for thread in trickle:
            thread.start()
        for thread in trickle:
            thread.join(timeout=args.drain + 30)
        sample("drain")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    finally:
        stop.set()

    for driver in drivers:
        print(f"{driver.name} sessions: {dict(sorted(driver.counts.items()))}")
    steady = [s for s in samples if s["phase"] == "load" and s["t"] >= warmup]
    print(f"verdict (steady = load samples after {warmup:.0f} s, {len(steady)} samples):")
    for key, label, limit, slack in (
        ("mem_entries", "memory store entries", bound, 50),
        ("sql_rows", "sqlite rows", bound, 50),
        ("sql_file_kib", "sqlite file KiB", None, 64),
        ("sql_wal_kib", "sqlite WAL KiB", None, 64),
        ("rss", "process RSS MiB", None, 8),
    ):
        print("  " + verdict(label, [s[key] for s in steady], limit, slack))
    failures = sum(
        d.counts.get("verify FAILED", 0) + d.counts.get("replay PASSED", 0) for d in drivers
    )
    print(f"  correctness: {failures} failed verifications or passing replays (want 0)")
    if samples and samples[-1]["phase"] == "drain":
        last = samples[-1]
        print(
            f"  after drain: memory {last['mem_entries']:.0f} entries, sqlite "
            f"{last['sql_rows']:.0f} rows ({last['sql_expired']:.0f} expired)"
        )
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
