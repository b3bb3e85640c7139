"""Live rooms benchmark: many clients in many case rooms on one server process.

For Telemed (a ``telemed serve`` subprocess on a fresh SQLite or PostgreSQL database) and
for a bare python-socketio broadcast server (bench/bare_broadcast_server.py), with the same
clients:

1. connects ``--clients`` Socket.IO clients (websocket) spread over ``--rooms`` rooms and
   measures the server's resident memory per idle connection;
2. light load: one note every ``1/--rate`` seconds, round-robin over the rooms, for
   ``--duration`` seconds; latency to the moment the last member of the room has the
   event, from the note's sending (what a user waits: issue 14's "note -> every member")
   and from the ack to the sender (delivery alone: the note is committed) (p50, p99);
3. saturation: one sender per room posts back-to-back for ``--duration`` seconds;
   sustained notes per second and the same latency.

After each phase it counts every (case, seq, member) that an acked note did not reach
and exits with status 1 if any is missing. Clients follow the head check of
docs/realtime.md (on ``case:head`` above what they have, join again with ``resync``);
events that arrive that way are counted apart ("healed"), with the server's
``telemed_live_healed_events_total``, so a run shows whether live delivery alone
delivered everything. ``--cpu-hog N`` runs N busy loops beside the server (a loaded
machine); ``--runs K`` repeats the Telemed target K times.

    .venv/bin/python bench/rooms_bench.py                # both targets, SQLite
    .venv/bin/python bench/rooms_bench.py --clients 200 --rooms 40 --duration 5
    .venv/bin/python bench/rooms_bench.py --target telemed --cpu-hog 2 --runs 10

Everything runs on loopback and is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from telemed.accounts.demo import DEMO_PASSWORD
from telemed.shapes import Json

ROOT = Path(__file__).resolve().parent.parent
# The users who may read a HDCM-MIENNAM case opened by bs.namcan; rooms get several sockets
# of the same users, as a user with a laptop and a phone has.
MEMBERS = ["bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"]
CONNECT_BATCH = 50
BACKGROUND: set[asyncio.Task[None]] = set()


@dataclass
class Target:
    name: str
    url: str
    pid: int
    tokens: dict[str, str] = field(default_factory=dict)
    case_ids: list[int] = field(default_factory=list)


@dataclass
class Client:
    sio: socketio.AsyncClient
    room: int
    received: dict[tuple[int, int], float] = field(default_factory=dict)
    # The head check of docs/realtime.md: the last seq applied in order, and what came
    # only through a join again after a case:head showed this client behind.
    last: int = 0
    joining: bool = False
    healed: set[tuple[int, int]] = field(default_factory=set)
    # As the browser does: after a dropped connection (the server's ping timeout on a
    # starved machine), connect again and join with the last seq applied.
    case_id: int | None = None
    reconnects: int = 0
    after_reconnect: set[tuple[int, int]] = field(default_factory=set)

    def apply(self, events: list[dict[str, Any]], into: set[tuple[int, int]] | None = None) -> None:
        now = time.perf_counter()
        for event in sorted(events, key=lambda e: int(e["seq"])):
            key = (event["case_id"], event["seq"])
            if key not in self.received:
                self.received[key] = now
                if into is not None:
                    into.add(key)
            if event["seq"] == self.last + 1:
                self.last = event["seq"]

    async def rejoin(self, *, resync: bool) -> None:
        if self.case_id is None:
            return
        self.joining = True
        try:
            join = {"case_id": self.case_id, "after_seq": self.last, "resync": resync}
            ack = await self.sio.call("case:join", join, timeout=60)
            if ack.get("ok"):
                self.apply(ack["events"], self.healed if resync else self.after_reconnect)
        except socketio.exceptions.SocketIOError:
            pass  # disconnected meanwhile: the next connect joins again
        finally:
            self.joining = False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def raise_open_files(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def pct(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


Process = asyncio.subprocess.Process


async def wait_ready(url: str, process: Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if process.returncode is not None:
                raise SystemExit(f"server at {url} exited with {process.returncode}")
            try:
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


async def telemed(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telemed", *args, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    if await process.wait() != 0:
        raise SystemExit(f"telemed {' '.join(args)} failed")


async def start_telemed(database_url: str, data_dir: Path, rooms: int) -> tuple[Target, Process]:
    await telemed("db", "upgrade", "--database-url", database_url)
    await telemed("demo", "--accounts-only", "--database-url", database_url)
    port = free_port()
    env = {
        **os.environ,
        "TELEMED_LOG_LEVEL": "WARNING",
        # The benchmark measures the server, not the per-connection flood limit.
        "TELEMED_SOCKET_RATE_PER_SECOND": "100000",
        "TELEMED_SOCKET_BURST": "100000",
    }
    command = [sys.executable, "-m", "telemed", "serve", "--port", str(port)]
    command += ["--database-url", database_url, "--data-dir", str(data_dir)]
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, process)
    target = Target("telemed", url, process.pid)
    async with aiohttp.ClientSession(base_url=url) as http:
        for username in MEMBERS:
            login = {"username": username, "password": DEMO_PASSWORD}
            async with http.post("/api/v1/auth/login", json=login) as response:
                target.tokens[username] = (await response.json())["token"]
        doctor = {"Authorization": f"Bearer {target.tokens['bs.namcan']}"}
        for n in range(rooms):
            case = {
                "council": "HDCM-MIENNAM",
                "patient_code": f"BENCH-{n:04d}",
                "patient_sex": "female",
                "patient_birth_year": 1970,
                "title": f"Bench case {n}",
                "summary": "Benchmark case.",
                "questions": ["Benchmark?"],
                "specialty": "Tim mạch",
                "urgency": "routine",
            }
            async with http.post("/api/v1/cases", json=case, headers=doctor) as response:
                assert response.status == 201, await response.text()
                target.case_ids.append((await response.json())["id"])
    return target, process


async def start_bare(rooms: int) -> tuple[Target, Process]:
    port = free_port()
    script = ROOT / "bench" / "bare_broadcast_server.py"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), "--port", str(port), cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, process)
    target = Target("bare", url, process.pid, {u: "-" for u in MEMBERS})
    target.case_ids = list(range(1, rooms + 1))
    return target, process


async def connect_all(target: Target, count: int) -> list[Client]:
    clients: list[Client] = []

    async def one(n: int) -> Client:
        room = n % len(target.case_ids)
        username = MEMBERS[(n // len(target.case_ids)) % len(MEMBERS)]
        sio = socketio.AsyncClient(reconnection_delay=0.5, reconnection_delay_max=2)
        client = Client(sio, room)

        def on_event(event: dict[str, Any]) -> None:
            client.apply([event])

        async def on_head(head: dict[str, Any]) -> None:
            if not client.joining and head["last_seq"] > client.last:
                await client.rejoin(resync=True)

        def on_connect() -> None:
            if client.case_id is not None:
                client.reconnects += 1
                task = asyncio.create_task(client.rejoin(resync=False))
                BACKGROUND.add(task)
                task.add_done_callback(BACKGROUND.discard)

        sio.on("case:event", on_event)
        sio.on("case:head", on_head)
        sio.on("connect", on_connect)
        await sio.connect(
            target.url,
            transports=["websocket"],
            auth={"token": target.tokens[username]},
            wait_timeout=30,
        )
        return client

    for start in range(0, count, CONNECT_BATCH):
        batch = range(start, min(count, start + CONNECT_BATCH))
        clients.extend(await asyncio.gather(*(one(n) for n in batch)))
    return clients


async def join_all(target: Target, clients: list[Client]) -> None:
    async def one(client: Client) -> None:
        case_id = target.case_ids[client.room]
        ack = await client.sio.call("case:join", {"case_id": case_id, "after_seq": 0}, timeout=60)
        assert ack["ok"], ack
        client.case_id = case_id
        client.apply(ack["events"])

    for start in range(0, len(clients), CONNECT_BATCH):
        await asyncio.gather(*(one(c) for c in clients[start : start + CONNECT_BATCH]))


class Notes:
    """Sends notes and keeps when each was sent and acknowledged."""

    def __init__(self, target: Target, clients: list[Client]) -> None:
        self.target = target
        self.by_room: dict[int, list[Client]] = defaultdict(list)
        for client in clients:
            self.by_room[client.room].append(client)
        # (case, seq) -> (sent at, acknowledged at, room)
        self.acked: dict[tuple[int, int], tuple[float, float, int]] = {}
        self.errors = 0
        self.missing: list[tuple[int, int, int]] = []
        self.healed = 0
        self.after_reconnect = 0

    async def send(self, room: int) -> None:
        sender = self.by_room[room][0]
        case_id = self.target.case_ids[room]
        note = {"case_id": case_id, "body": "bench"}
        sent_at = time.perf_counter()
        try:
            ack = await sender.sio.call("case:note", note, timeout=60)
        except socketio.exceptions.SocketIOError:
            ack = {}  # no ack (dropped or timed out): not counted as stored
        if not ack.get("ok"):
            self.errors += 1
            return
        self.acked[(case_id, ack["seq"])] = (sent_at, time.perf_counter(), room)

    async def latencies(self, within: float = 30.0) -> tuple[list[float], list[float]]:
        """Send-to-last-member and ack-to-last-member delays of every acked note (waits
        for stragglers)."""
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline:
            missing = sum(
                1
                for key, (_, _, room) in self.acked.items()
                for c in self.by_room[room]
                if key not in c.received
            )
            if not missing:
                break
            await asyncio.sleep(0.2)
        self.missing = [
            (key[0], key[1], n)
            for key, (_, _, room) in self.acked.items()
            for n, c in enumerate(self.by_room[room])
            if key not in c.received
        ]
        self.healed = sum(
            key in c.healed for key, (_, _, room) in self.acked.items() for c in self.by_room[room]
        )
        self.after_reconnect = sum(
            key in c.after_reconnect
            for key, (_, _, room) in self.acked.items()
            for c in self.by_room[room]
        )
        from_send, from_ack = [], []
        for key, (sent_at, acked_at, room) in self.acked.items():
            times = [c.received.get(key) for c in self.by_room[room]]
            if all(t is not None for t in times):
                last = max(t for t in times if t is not None)
                from_send.append(last - sent_at)
                from_ack.append(last - acked_at)
        return from_send, from_ack


async def light_load(target: Target, clients: list[Client], rate: float, duration: float) -> Json:
    notes = Notes(target, clients)
    tasks = []
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < duration:
        tasks.append(asyncio.create_task(notes.send(n % len(target.case_ids))))
        n += 1
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    result = summary(await notes.latencies(), notes, time.perf_counter() - started)
    result["connected"] = sum(1 for c in clients if c.sio.connected)
    return result


async def saturation(target: Target, clients: list[Client], duration: float) -> Json:
    notes = Notes(target, clients)
    started = time.perf_counter()

    async def room_loop(room: int) -> None:
        while time.perf_counter() - started < duration:
            await notes.send(room)

    await asyncio.gather(*(room_loop(r) for r in range(len(target.case_ids))))
    elapsed = time.perf_counter() - started
    result = summary(await notes.latencies(), notes, elapsed)
    result["connected"] = sum(1 for c in clients if c.sio.connected)
    return result


def summary(latencies: tuple[list[float], list[float]], notes: Notes, elapsed: float) -> Json:
    from_send, from_ack = latencies
    acked = len(notes.acked)
    return {
        "notes": acked,
        "errors": notes.errors,
        "missing": notes.missing,
        "healed": notes.healed,
        "after_reconnect": notes.after_reconnect,
        "notes_per_s": acked / elapsed,
        "delivered": len(from_ack),
        "sent_p50_ms": pct(from_send, 0.50) * 1000,
        "sent_p99_ms": pct(from_send, 0.99) * 1000,
        "p50_ms": pct(from_ack, 0.50) * 1000,
        "p99_ms": pct(from_ack, 0.99) * 1000,
        "mean_ms": statistics.fmean(from_ack) * 1000 if from_ack else float("nan"),
    }


async def run_target(name: str, args: argparse.Namespace, tmp: Path) -> Json:
    if name == "telemed":
        url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        target, process = await start_telemed(url, tmp / "data", args.rooms)
    else:
        target, process = await start_bare(args.rooms)
    clients: list[Client] = []
    try:
        await asyncio.sleep(1.0)
        before = rss_bytes(target.pid)
        clients = await connect_all(target, args.clients)
        await join_all(target, clients)
        await asyncio.sleep(2.0)
        after = rss_bytes(target.pid)
        result: Json = {
            "target": name,
            "clients": len(clients),
            "rooms": len(target.case_ids),
            "rss_mib": after / 2**20,
            "bytes_per_connection": (after - before) / max(1, len(clients)),
        }
        result["light"] = await light_load(target, clients, args.rate, args.duration)
        result["saturation"] = await saturation(target, clients, args.duration)
        result["server_healed"] = await healed_on_server(target) if name == "telemed" else 0
        result["reconnects"] = sum(c.reconnects for c in clients)
        return result
    finally:
        await stop(clients, process)


async def stop(clients: list[Client], process: Process) -> None:
    """Disconnect ``clients`` (in batches) and end the server ``process``."""
    for start in range(0, len(clients), CONNECT_BATCH):
        batch = clients[start : start + CONNECT_BATCH]
        await asyncio.gather(*(c.sio.disconnect() for c in batch), return_exceptions=True)
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


async def healed_on_server(target: Target) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{target.url}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith("telemed_live_healed_events_total "):
                return float(line.split()[1])
    return float("nan")


def hog_cpu(count: int) -> list[subprocess.Popen[bytes]]:
    """Busy loops beside the server: a machine whose cores are all taken."""
    loop = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]  # noqa: S603


def missing_count(result: Json) -> int:
    return sum(len(result[phase]["missing"]) for phase in ("light", "saturation"))


def report(results: list[Json]) -> None:
    for r in results:
        print(
            f"\n== {r['target']}: {r['clients']} clients in {r['rooms']} rooms; "
            f"server RSS {r['rss_mib']:.0f} MiB, "
            f"{r['bytes_per_connection'] / 1024:.1f} KiB per idle joined connection"
        )
        for phase in ("light", "saturation"):
            p = r[phase]
            print(
                f"  {phase:10s} {p['notes']:6d} notes ({p['errors']} errors), "
                f"{p['notes_per_s']:7.1f} notes/s, note->all members "
                f"p50 {p['sent_p50_ms']:7.1f} ms  p99 {p['sent_p99_ms']:7.1f} ms, ack->all "
                f"p50 {p['p50_ms']:7.1f} ms  p99 {p['p99_ms']:7.1f} ms  "
                f"({p['delivered']} fully delivered, {p['connected']} clients still connected)"
            )
            print(
                f"  {'':10s} missing (case, seq, member): {len(p['missing'])}"
                f"{' e.g. ' + str(p['missing'][:5]) if p['missing'] else ''}; "
                f"reached a member only through the head check: {p['healed']}, "
                f"through a join after reconnecting: {p['after_reconnect']}"
            )
        if r["target"] == "telemed":
            print(f"  server telemed_live_healed_events_total: {r['server_healed']:.0f}")
        print(f"  client reconnections (dropped by the server and back): {r['reconnects']}")
    if len(results) == 2:
        telemed, bare = results
        print(
            "\n  ratio telemed/bare: saturation notes/s "
            f"{telemed['saturation']['notes_per_s'] / bare['saturation']['notes_per_s']:.3f}, "
            "light note->all p99 "
            f"{telemed['light']['sent_p99_ms'] / bare['light']['sent_p99_ms']:.2f}x, "
            f"light ack->all p50 {telemed['light']['p50_ms'] / bare['light']['p50_ms']:.1f}x, "
            f"p99 {telemed['light']['p99_ms'] / bare['light']['p99_ms']:.1f}x, "
            "memory per connection "
            f"{telemed['bytes_per_connection'] / bare['bytes_per_connection']:.1f}x"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="notes/s in the light phase")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--target", choices=["telemed", "bare", "both"], default="both")
    parser.add_argument("--database-url", help="e.g. a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--cpu-hog", type=int, default=0, help="busy loops beside the server")
    parser.add_argument("--runs", type=int, default=1, help="repeat the Telemed target")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 5000))
    args.duration = max(1.0, min(args.duration, 120.0))
    raise_open_files(4 * args.clients + 1024)
    names = ["telemed", "bare"] if args.target == "both" else [args.target]
    runs = max(1, min(args.runs, 20))
    hogs = hog_cpu(max(0, min(args.cpu_hog, 8)))
    failed = 0
    try:
        for run in range(1, runs + 1):
            results = []
            for name in names if run == 1 else ["telemed"]:
                with tempfile.TemporaryDirectory() as tmp:
                    results.append(await run_target(name, args, Path(tmp)))
            print(f"\n#### run {run} of {runs} (load average {os.getloadavg()[0]:.1f})")
            report(results)
            failed += sum(1 for r in results if missing_count(r))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    if failed:
        raise SystemExit(f"FAILED: acked notes missing at some members in {failed} run(s)")
    print(f"\nevery acked note reached every member in all {runs} run(s)")


if __name__ == "__main__":
    asyncio.run(main())
