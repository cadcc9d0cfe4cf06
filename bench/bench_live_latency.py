"""Benchmark: live-subscription delivery, from a commit in a worker process to 500 subscribers of a
real API process, and the API's memory per subscriber.

    .venv/bin/python bench/bench_live_latency.py [--subscribers 500] [--commits 100] [--gap 0.075]
        [--slow-commits 30] [--slow-gap 0.4] [--client-procs 2] [--bus postgres,redis://127.0.0.1:6379/0]

Processes, all on this host (one wall clock, ``time.time()``):

- the API: ``orderdeck serve --port N`` (one uvicorn process) on the bench database, with
  ORDERDECK_EVENT_BUS=postgres (LISTEN/NOTIFY) or a redis:// URL (pub/sub), and
  ORDERDECK_BROKER_URL=redis://127.0.0.1:6379/0 with a namespace of its own, so it runs no
  in-process worker;
- the "worker": a Python process of this file (``--role worker``) that opens Tortoise on the same
  database with the same settings and commits real orders (``create_orders`` of one order with one
  line, every ``--gap`` seconds), stamping ``time.time()`` right after each call returns (the
  commit is its last statement);
- the subscribers: ``--client-procs`` processes of this file (``--role clients``), each holding its
  share of the websockets (``orderdeck.wsclient.LiveClient``, a READER token in connection_init).
  Every subscriber runs ``orderEvents(after: <newest event id>)`` selecting
  ``... on OrderEvent { eventId kind number }`` and stamps ``time.time()`` when each ``next``
  payload reaches it.

A (commit, subscriber) pair's latency is its receive time minus the commit time, matched by order
number. Per bus, in order:

1. baseline, first half: 1 subscriber, ``--commits / 2`` commits (after 3 warm-up commits);
2. memory with 0 subscribers (the baseline's connection has closed): the API's VmRSS;
3. ``--subscribers`` subscribers connect and subscribe; one barrier commit, which every one of them
   must receive; VmRSS; then ``--slow-commits`` commits every ``--slow-gap`` s (a rate the API keeps
   up with), and ``--commits`` commits every ``--gap`` s, each batch waited for until delivered
   everywhere; VmRSS after each; all disconnect; VmRSS again;
4. baseline, second half: 1 subscriber, the other half of the commits (drift shows between halves).

Checks (printed; any failure makes the exit status 1): every subscriber received every order event
committed while it was subscribed exactly once, in increasing eventId order, with the eventId the
``event`` table holds for that order, and no EventsMissed.

Ratios: the many-subscriber latencies divided by the 1-subscriber baseline's, same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ACTOR,
    Catalogue,
    bench_database,
    fmt,
    machine_note,
    order_inputs,
    percentile,
    print_table,
    ratio,
    seed_stock,
)

SECRET_KEY = "orderdeck-bench-secret-key-0123456789abcdef"
"""ORDERDECK_SECRET_KEY of the API and worker processes (PostgreSQL requires one)."""
REDIS_URL = os.environ.get("ORDERDECK_BENCH_REDIS", "redis://127.0.0.1:6379/0")
ORDERDECK = Path(sys.executable).parent / "orderdeck"
THIS = Path(__file__).resolve()

SUBSCRIPTION = """
subscription Live($after: EventId) {
  orderEvents(after: $after) {
    __typename
    ... on OrderEvent { eventId kind number }
    ... on EventsMissed { fromId toId reason }
  }
}
"""

DELIVERY_TIMEOUT = 60.0
"""Seconds after the last commit for every subscriber to have its last event."""


# --- the worker process: commits -------------------------------------------------------------


async def worker_main(args: argparse.Namespace) -> None:
    """Commit orders on command (JSON lines on stdin); answer each command with the commits."""
    from orderdeck import db
    from orderdeck.config import get_settings
    from orderdeck.models import StockItem
    from orderdeck.services.locations import ensure_default_location
    from orderdeck.services.orders import create_orders

    settings = get_settings()  # the same ORDERDECK_* environment as the API
    await db.init_db(settings.database_url)
    try:
        location = await ensure_default_location()
        items = await StockItem.all().order_by("sku")
        catalogue = Catalogue(items, [location], 0)
        reply({"ready": True, "bus": settings.event_bus})
        batch = 0
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = json.loads(line)
            batch += 1
            inputs = order_inputs(command["orders"], catalogue, lines=1, seed=batch, prefix=command["prefix"])
            commits = []
            start = time.perf_counter()
            for n, data in enumerate(inputs):
                await asyncio.sleep(max(0.0, start + n * command["gap"] - time.perf_counter()))
                called = time.perf_counter()
                [order] = await create_orders([data], ACTOR)
                committed = time.time()
                commits.append([order.number, committed, time.perf_counter() - called])
            reply({"commits": commits})
    finally:
        await db.close_db()


def reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# --- the client processes: subscribers -------------------------------------------------------


@dataclass
class Subscriber:
    records: list[list] = field(default_factory=list)
    """[eventId, number, receive time] per OrderEvent, in arrival order."""
    missed: list[dict] = field(default_factory=list)
    last_number: int = 0
    connected: bool = False
    ended: str | None = None


async def clients_main(args: argparse.Namespace) -> None:
    """Hold ``--count`` subscriptions; answer wait/dump/close commands (JSON lines on stdin)."""
    from orderdeck.wsclient import LiveClient

    subscribers = [Subscriber() for _ in range(args.count)]
    slots = asyncio.Semaphore(25)  # websocket handshakes in flight
    connected = asyncio.Event()
    lags: list[float] = []

    async def run(sub: Subscriber) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with slots:
                    client = await stack.enter_async_context(LiveClient.connect(args.url, args.token, timeout=60))
                sub.connected = True
                if all(s.connected for s in subscribers):
                    connected.set()
                async for data in client.subscribe(SUBSCRIPTION, {"after": args.after}):
                    at = time.time()
                    event = data["orderEvents"]
                    if event["__typename"] == "OrderEvent":
                        sub.records.append([event["eventId"], event["number"], at])
                        sub.last_number = max(sub.last_number, event["number"])
                    else:
                        sub.missed.append(event)
                sub.ended = "the subscription ended"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the bench
            sub.ended = f"{type(exc).__name__}: {exc}"
            connected.set()

    async def watch_loop() -> None:
        """How late this process's event loop wakes up (is the client side the bottleneck?)."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - started - 0.01)

    started = time.perf_counter()
    tasks = [asyncio.create_task(run(sub)) for sub in subscribers]
    watcher = asyncio.create_task(watch_loop())
    await connected.wait()
    failed = [s.ended for s in subscribers if s.ended]
    reply({"ready": len(subscribers) - len(failed), "seconds": time.perf_counter() - started, "errors": failed[:3]})
    while line := await asyncio.to_thread(sys.stdin.readline):
        command = json.loads(line)
        if command["cmd"] == "wait":  # until every subscriber has the order number, or the timeout
            deadline = time.perf_counter() + command["timeout"]
            while time.perf_counter() < deadline:
                if all(s.last_number >= command["number"] or s.ended for s in subscribers):
                    break
                await asyncio.sleep(0.02)
            short = sum(1 for s in subscribers if s.last_number < command["number"])
            reply({"short": short, "ended": [s.ended for s in subscribers if s.ended][:3]})
        elif command["cmd"] == "dump":
            cpu = os.times()
            reply({"subscribers": [{"records": s.records, "missed": s.missed, "ended": s.ended} for s in subscribers]
                   if command["records"] else [], "lags": lags, "cpu": cpu.user + cpu.system})  # fmt: skip
            lags.clear()
        elif command["cmd"] == "close":
            break
    watcher.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, watcher, return_exceptions=True)
    reply({"closed": True})


# --- children of the bench -------------------------------------------------------------------


class Child:
    """A subprocess speaking JSON lines on stdin/stdout; stderr goes to a log file."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Any) -> None:
        self.name, self.process, self.log = name, process, log

    @classmethod
    async def start(cls, name: str, args: list[str], env: dict[str, str]) -> Child:
        log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-live-{name}-", suffix=".log", delete=False)
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log, env=env,
            limit=2**28, start_new_session=True,
        )  # fmt: skip
        return cls(name, process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def send(self, message: dict) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()

    async def recv(self, timeout: float = 120.0) -> dict:
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise SystemExit(f"{self.name}: no answer in {timeout:g} s; log {self.log.name}:\n{self.tail()}") from None
        if not line:
            await self.process.wait()
            raise SystemExit(f"{self.name} exited ({self.process.returncode}); log {self.log.name}:\n{self.tail()}")
        return json.loads(line)

    async def ask(self, message: dict, timeout: float = 120.0) -> dict:
        await self.send(message)
        return await self.recv(timeout)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log.name).read_text().splitlines()[-lines:])

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL; for its whole process group (uvicorn, dramatiq helpers)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()

    def discard_log(self) -> None:
        self.log.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.log.name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int, key: str) -> int:
    """A kB figure from /proc/PID/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- one bus -------------------------------------------------------------------------------


@dataclass
class Phase:
    """One delivery phase: the commits and what each subscriber received."""

    label: str
    commits: list[list] = field(default_factory=list)
    """[order number, commit time, create_orders seconds] of the measured commits."""
    subscribers: list[dict] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    api_cpu: float = 0.0
    short: int = 0
    load: float = 0.0
    """The host's 1-minute load average as the phase ended (2 cores: above 2, processes queue for a core)."""

    def latencies(self) -> list[float]:
        """ms, over every (measured commit, subscriber) pair received."""
        at = {number: committed for number, committed, _ in self.commits}
        return [(t - at[number]) * 1000 for s in self.subscribers for _, number, t in s["records"] if number in at]

    def per_commit(self) -> list[tuple[float, float]]:
        """(first, last) receive latency in ms per measured commit, over the subscribers that got it."""
        got: dict[int, list[float]] = {number: [] for number, _, _ in self.commits}
        for s in self.subscribers:
            for _, number, t in s["records"]:
                if number in got:
                    got[number].append(t)
        at = {number: committed for number, committed, _ in self.commits}
        return [((min(ts) - at[n]) * 1000, (max(ts) - at[n]) * 1000) for n, ts in got.items() if ts]

    def delivered(self) -> int:
        numbers = {number for number, _, _ in self.commits}
        return sum(1 for s in self.subscribers for _, number, _ in s["records"] if number in numbers)

    def span(self) -> float:
        """Seconds from the first measured commit to the last receive of a measured event."""
        numbers = {number for number, _, _ in self.commits}
        last = max((t for s in self.subscribers for _, number, t in s["records"] if number in numbers), default=0.0)
        return last - self.commits[0][1] if last else float("nan")


class Run:
    """The API, the worker and the subscribers of one bus."""

    def __init__(self, args: argparse.Namespace, database_url: str, token: str, bus: str) -> None:
        self.args, self.bus, self.token = args, bus, token
        self.namespace = f"orderdeck-bench-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/graphql"
        self.env = {
            **os.environ,
            "ORDERDECK_DATABASE_URL": database_url,
            "ORDERDECK_EVENT_BUS": bus,
            "ORDERDECK_BROKER_URL": REDIS_URL,
            "ORDERDECK_BROKER_NAMESPACE": self.namespace,
            "ORDERDECK_SECRET_KEY": SECRET_KEY,
            "ORDERDECK_GRAPHIQL": "false",
            # Every simulated dashboard signs in with the one bench token: 500 subscribes at once
            # would pass its rate limit (600 a minute, bursts of 100), which is not what is measured.
            "ORDERDECK_RATE_LIMIT_PER_MINUTE": "0",
            "PYTHONUNBUFFERED": "1",
        }
        self.api: Child | None = None
        self.worker: Child | None = None
        self.children: list[Child] = []
        self.batches = 0
        self.failures: list[str] = []

    async def start(self) -> float:
        """Start the API and the worker; the API's start-up seconds."""
        import httpx

        started = time.perf_counter()
        self.api = await Child.start("api", [str(ORDERDECK), "serve", "--port", str(self.port)], self.env)
        async with httpx.AsyncClient() as http:
            while True:
                if self.api.process.returncode is not None:
                    raise SystemExit(f"the API exited ({self.api.process.returncode}):\n{self.api.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)).status_code == 200:
                        break
                if time.perf_counter() - started > 90:
                    raise SystemExit(f"the API did not become ready in 90 s:\n{self.api.tail()}")
                await asyncio.sleep(0.2)
        up = time.perf_counter() - started
        self.worker = await Child.start("worker", [sys.executable, str(THIS), "--role", "worker"], self.env)
        await self.worker.recv(90)
        return up

    async def stop(self) -> None:
        for child in [*self.children, self.worker, self.api]:
            if child is not None:
                await child.stop()

    async def commit(self, count: int, gap: float | None = None) -> list[list]:
        assert self.worker is not None
        self.batches += 1
        answer = await self.worker.ask({"orders": count, "gap": self.args.gap if gap is None else gap,
                                        "prefix": f"LIVE-{self.namespace[-8:]}-{self.batches}"}, 600)  # fmt: skip
        return answer["commits"]

    async def subscribers(self, count: int, procs: int) -> list[Child]:
        """``count`` subscribers over ``procs`` client processes, subscribed after the newest event."""
        from orderdeck.services.events import last_id

        after = await last_id()
        shares = [count // procs + (1 if n < count % procs else 0) for n in range(procs)]
        clients = []
        for n, share in enumerate(shares):
            argv = [sys.executable, str(THIS), "--role", "clients", "--url", self.url, "--token", self.token,
                    "--count", str(share), "--after", str(after)]  # fmt: skip
            child = await Child.start(f"clients{n}", argv, {**os.environ, "PYTHONUNBUFFERED": "1"})
            clients.append(child)
            self.children.append(child)
        for child in clients:
            ready = await child.recv(180)
            if ready["errors"]:
                raise SystemExit(f"{child.name}: subscribers failed to connect: {ready['errors']}")
        return clients

    async def wait(self, clients: list[Child], number: int, timeout: float = DELIVERY_TIMEOUT) -> int:
        """Until every subscriber has order ``number``; how many do not."""
        for child in clients:
            await child.send({"cmd": "wait", "number": number, "timeout": timeout})
        answers = [await child.recv(timeout + 30) for child in clients]
        return sum(a["short"] for a in answers)

    async def close(self, clients: list[Child]) -> None:
        for child in clients:
            await child.send({"cmd": "close"})
        for child in clients:
            await child.recv(60)
            await child.process.wait()
            self.children.remove(child)
            child.discard_log()

    async def session(self, label: str, count: int, procs: int, warmup: int,
                      batches: list[tuple[str, int, float]]) -> Session:  # fmt: skip
        """Connect ``count`` subscribers; ``warmup`` commits, which all must receive; then each batch
        (label, commits, gap), each waited for until delivered; the API's VmRSS (kB) after the
        warm-up and after each batch."""
        assert self.api is not None
        clients = await self.subscribers(count, procs)
        warm = await self.commit(warmup, 0.02)
        expected = [number for number, _, _ in warm]
        if await self.wait(clients, warm[-1][0], DELIVERY_TIMEOUT):
            raise SystemExit(f"{label}: some subscribers did not get the warm-up commit; API log:\n{self.api.tail()}")
        await asyncio.sleep(1.0)
        memory = {"subscribed": proc_status(self.api.pid, "VmRSS")}
        phases = []
        for name, commits, gap in batches:
            before = [await child.ask({"cmd": "dump", "records": False}) for child in clients]  # resets the lags
            cpu = cpu_seconds(self.api.pid)
            phase = Phase(name)
            phase.commits = await self.commit(commits, gap)
            phase.short = await self.wait(clients, phase.commits[-1][0])
            phase.api_cpu = cpu_seconds(self.api.pid) - cpu
            phase.load = os.getloadavg()[0]
            expected += [number for number, _, _ in phase.commits]
            after = [await child.ask({"cmd": "dump", "records": False}) for child in clients]
            phase.lags = [lag for d in after for lag in d["lags"]]
            phase.client_cpu = sum(d["cpu"] for d in after) - sum(d["cpu"] for d in before)
            memory[f"after {name}"] = proc_status(self.api.pid, "VmRSS")
            phases.append(phase)
            await asyncio.sleep(0.5)
        dumps = [await child.ask({"cmd": "dump", "records": True}) for child in clients]
        subscribers = [s for d in dumps for s in d["subscribers"]]
        for phase in phases:
            phase.subscribers = subscribers
        await self.close(clients)
        return Session(label, expected, subscribers, phases, memory)


@dataclass
class Session:
    """Subscribers connected together, and the batches of commits they received."""

    label: str
    expected: list[int]
    """Every order number committed while they were subscribed (warm-up included), in order."""
    subscribers: list[dict]
    phases: list[Phase]
    memory: dict[str, int]


def check(phase: Session, event_ids: dict[int, int]) -> list[str]:
    """Every subscriber: every expected order event exactly once, in eventId order, no EventsMissed,
    with the table's eventId. The problems found (first few)."""
    problems = []
    for n, s in enumerate(phase.subscribers):
        numbers = [number for _, number, _ in s["records"]]
        ids = [event_id for event_id, _, _ in s["records"]]
        if s["missed"]:
            problems.append(f"subscriber {n}: EventsMissed {s['missed'][:2]}")
        if s["ended"]:
            problems.append(f"subscriber {n}: {s['ended']}")
        if numbers != phase.expected:
            lost = sorted(set(phase.expected) - set(numbers))
            dup = len(numbers) - len(set(numbers))
            extra = sorted(set(numbers) - set(phase.expected))
            problems.append(f"subscriber {n}: {len(numbers)} events for {len(phase.expected)} commits "
                            f"(lost {lost[:5]}, duplicates {dup}, unexpected {extra[:5]})")  # fmt: skip
        if any(b <= a for a, b in zip(ids, ids[1:])):
            problems.append(f"subscriber {n}: eventIds not increasing")
        wrong = [(number, event_id) for event_id, number, _ in s["records"] if event_ids.get(number) != event_id]
        if wrong:
            problems.append(f"subscriber {n}: eventId differs from the event table for {wrong[:3]}")
    return problems


async def order_event_ids() -> dict[int, int]:
    """Order number -> id of its CREATED event, from the event table."""
    from orderdeck.models import Event, EventTopic

    rows = await Event.filter(topic=EventTopic.ORDER, kind="CREATED").values_list("id", "data")
    return {data["number"]: event_id for event_id, data in rows}


@dataclass
class BusResult:
    bus: str
    api_start: float
    baseline: list[Session]
    many: Session
    memory: dict[str, int]
    problems: list[str]


async def measure(args: argparse.Namespace, database_url: str, token: str, bus: str) -> BusResult:
    run = Run(args, database_url, token, bus)
    ok = False
    try:
        up = await run.start()
        assert run.api is not None
        print(f"\n[{bus}] API pid {run.api.pid} ready in {up:.1f} s on port {run.port}; "
              f"broker namespace {run.namespace}", flush=True)  # fmt: skip
        half = args.commits // 2
        base1 = await run.session("1 subscriber, first half", 1, 1, 3, [("first half", half, args.gap)])
        await asyncio.sleep(1.5)
        memory = {"0 subscribers (warmed up)": proc_status(run.api.pid, "VmRSS")}
        started = time.perf_counter()
        n = args.subscribers
        batches = [(f"{args.commits} commits, 1 per {args.gap * 1000:.0f} ms", args.commits, args.gap)]
        if args.slow_commits:
            slow = f"{args.slow_commits} commits, 1 per {args.slow_gap * 1000:.0f} ms"
            batches.insert(0, (slow, args.slow_commits, args.slow_gap))
        many = await run.session(f"{n} subscribers", n, args.client_procs, 1, batches)
        memory |= {f"{n} subscribed, idle": many.memory["subscribed"]}
        memory |= {f"{n} subscribed, after {name}": many.memory[f"after {name}"] for name, _, _ in batches}
        print(f"[{bus}] {n} subscribers: {sum(len(p.commits) for p in many.phases)} commits, "
              f"{time.perf_counter() - started:.1f} s with the connecting", flush=True)  # fmt: skip
        await asyncio.sleep(2.0)
        memory["all disconnected (2 s later)"] = proc_status(run.api.pid, "VmRSS")
        rest = args.commits - half
        base2 = await run.session("1 subscriber, second half", 1, 1, 1, [("second half", rest, args.gap)])
        memory["peak (VmHWM)"] = proc_status(run.api.pid, "VmHWM")
        ids = await order_event_ids()
        problems = []
        for session in (base1, many, base2):
            found = check(session, ids)
            short = sum(p.short for p in session.phases)
            if short:
                found.insert(0, f"{short} times a subscriber lacked a batch's last event {DELIVERY_TIMEOUT:g} s "
                                "after its last commit")
            problems += [f"{session.label}: {p}" for p in found]
        ok = True
        return BusResult(bus, up, [base1, base2], many, memory, problems)
    except BaseException:
        for child in [run.api, run.worker, *run.children]:
            if child is not None:
                print(f"--- {child.name} log {child.log.name}:\n{child.tail()}", file=sys.stderr)
        raise
    finally:
        await run.stop()
        for child in [run.api, run.worker]:
            if ok and child is not None and child.process.returncode is not None:
                child.discard_log()
        await asyncio.to_thread(clean_redis, run.namespace)


def clean_redis(namespace: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{namespace}:*"))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


# --- report --------------------------------------------------------------------------------


def latency_row(label: str, values: list[float], base: dict[str, float] | None, pairs: int) -> tuple[list[str], dict]:
    figures = {p: percentile(values, p) for p in (50, 95, 99)}
    figures["max"] = max(values) if values else float("nan")
    base = base or figures
    cells = [f"{figures[key]:.1f}" for key in (50, 95, 99, "max")]
    return [label, fmt(pairs), *cells, ratio(figures[50], base[50]), ratio(figures[95], base[95])], figures


def report(args: argparse.Namespace, result: BusResult) -> None:
    n = args.subscribers
    halves = [session.phases[0] for session in result.baseline]
    base_all = Phase("baseline", commits=[c for p in halves for c in p.commits],
                     subscribers=[s for p in halves for s in p.subscribers])  # fmt: skip
    rows = []
    row, base = latency_row("1 subscriber (baseline)", base_all.latencies(), None, len(base_all.latencies()))
    rows.append(row)
    for phase, label in zip(halves, ["  baseline, first half", "  baseline, second half"]):
        rows.append(latency_row(label, phase.latencies(), base, len(phase.latencies()))[0])
    for phase in result.many.phases:
        rows.append(latency_row(f"{n} subscribers, {phase.label}: every pair", phase.latencies(), base,
                                len(phase.latencies()))[0])  # fmt: skip
        spans = phase.per_commit()
        rows.append(latency_row("  first subscriber to receive it", [f for f, _ in spans], base, len(spans))[0])
        rows.append(latency_row("  last subscriber to receive it", [last for _, last in spans], base, len(spans))[0])
        spread = latency_row("  spread last - first", [last - f for f, last in spans], None, len(spans))[0]
        rows.append(spread[:6] + ["", ""])
    print_table(f"[{result.bus}] Latency, commit in the worker process -> subscriber receives the OrderEvent "
                "(ms; pairs: (commit, subscriber); ratios: / the 1-subscriber baseline, same run)",
                ["variant", "pairs", "p50", "p95", "p99", "max", "p50 / base", "p95 / base"], rows)  # fmt: skip
    calls = [c[2] * 1000 for p in (*halves, *result.many.phases) for c in p.commits]
    print(f"API start-up {result.api_start:.1f} s. create_orders call in the worker (commit included): p50 "
          f"{percentile(calls, 50):.1f} ms. Smallest latency of a pair: "
          f"{min(v for p in (*halves, *result.many.phases) for v in p.latencies()):.1f} ms.")  # fmt: skip
    rows = []
    for phase in (*halves, *result.many.phases):
        delivered = phase.delivered()
        label = f"1 subscriber, {phase.label}" if phase in halves else f"{n} subscribers, {phase.label}"
        rows.append([label, fmt(len(phase.commits)), fmt(delivered), fmt(delivered / phase.span()), f"{phase.api_cpu:.2f}",
                     f"{phase.api_cpu / phase.span() * 100:.0f}%", f"{phase.api_cpu / len(phase.commits) * 1000:.1f}",
                     f"{phase.api_cpu / max(delivered, 1) * 1e6:.0f}", f"{phase.client_cpu:.2f}",
                     f"{phase.client_cpu / max(delivered, 1) * 1e6:.0f}", f"{percentile(phase.lags, 99) * 1000:.1f}",
                     f"{phase.load:.1f}"])  # fmt: skip
    print_table(f"[{result.bus}] Throughput and CPU (span: first commit to last receive; load: the host's 1-minute "
                f"load average after the phase, {os.cpu_count()} cores)",
                ["phase", "commits", "events delivered", "events/s", "API CPU s", "API CPU / span", "API CPU ms/commit",
                 "API CPU us/event", "client CPU s", "client CPU us/event", "client loop lag p99 ms", "load"], rows)  # fmt: skip
    mem = result.memory
    zero = mem["0 subscribers (warmed up)"]
    rows = [[k, fmt(v / 1024, 1), f"{(v - zero) / 1024:+.1f}", f"{(v - zero) / n:.1f}" if k.startswith(f"{n} ") else ""]
            for k, v in mem.items()]  # fmt: skip
    print_table(f"[{result.bus}] API process memory, VmRSS ({args.client_procs} client processes hold the subscribers)",
                ["state", "MiB", "vs 0 subscribers, MiB", f"KiB per subscriber (/ {n})"], rows)
    before = mem[f"{n} subscribed, idle"]
    for phase in result.many.phases:
        after = mem[f"{n} subscribed, after {phase.label}"]
        print(f"VmRSS growth while the subscribers received {phase.label}: {(after - before) / 1024:+.1f} MiB, "
              f"{(after - before) * 1024 / max(phase.delivered(), 1):,.0f} bytes per event delivered.")
        before = after
    total = sum(len(s["records"]) for session in (*result.baseline, result.many) for s in session.subscribers)
    if result.problems:
        print(f"\nCHECK FAILED ({len(result.problems)} problems):")
        for p in result.problems[:20]:
            print(f"  {p}")
    else:
        print(f"\nCheck passed: each of the {n} subscribers (and the 2 baseline ones) received every order event "
              f"committed while it was subscribed exactly once, in increasing eventId order, with the eventId of the "
              f"event table, and no EventsMissed ({fmt(total)} events received in all).")  # fmt: skip


# --- main ----------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    from orderdeck.models import Role
    from orderdeck.services.auth import create_token

    # SIGTERM cleans up like Ctrl-C: the child processes are stopped and the database dropped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    results = []
    async with bench_database() as database:
        await seed_stock(skus=args.skus, extra_locations=0, level=1_000_000)
        _, token = await create_token("bench-live", ACTOR, Role.READER)
        print(f"live-subscription latency benchmark: {args.subscribers} subscribers over {args.client_procs} client "
              f"process(es), {args.commits} commits every {args.gap * 1000:.0f} ms from a worker process, "
              f"bus(es) {', '.join(args.bus)}; database {database.name}; {machine_note()}", flush=True)  # fmt: skip
        for bus in args.bus:
            results.append(await measure(args, database.url, token, bus))
    for result in results:
        report(args, result)
    if any(r.problems for r in results):
        raise SystemExit(1)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=500, help="concurrent subscribers (default 500)")
    parser.add_argument("--commits", type=int, default=100,
                        help="commits delivered to them, and (in two halves) to the 1-subscriber baseline (default 100)")
    parser.add_argument("--gap", type=float, default=0.075, help="seconds between commits (default 0.075)")
    parser.add_argument("--slow-commits", type=int, default=30,
                        help="commits of a first, slower batch to the same subscribers; 0 skips it (default 30)")
    parser.add_argument("--slow-gap", type=float, default=0.4, help="seconds between its commits (default 0.4)")
    parser.add_argument("--client-procs", type=int, default=2, help="processes holding the subscribers (default 2)")
    parser.add_argument("--bus", default=f"postgres,{REDIS_URL}",
                        help=f"ORDERDECK_EVENT_BUS values to run, comma-separated (default postgres,{REDIS_URL})")
    parser.add_argument("--skus", type=int, default=20, help="stock items the orders use (default 20)")
    # Children of the bench (not for direct use).
    parser.add_argument("--role", choices=["bench", "worker", "clients"], default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--after", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.bus = [b.strip() for b in args.bus.split(",") if b.strip()]
    if args.commits < 2 or args.subscribers < 1 or not 1 <= args.client_procs <= args.subscribers:
        parser.error("need --commits >= 2, --subscribers >= 1 and 1 <= --client-procs <= --subscribers")
    return args


if __name__ == "__main__":
    arguments = parse()
    entry = {"bench": main, "worker": worker_main, "clients": clients_main}[arguments.role]
    asyncio.run(entry(arguments))
