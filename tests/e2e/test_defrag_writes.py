"""Defragment under load: several clients write continuously (raw gRPC, a
bounded number of puts each) while `etcdctl defrag` runs; afterwards every
acknowledged write is present with its value, and reads, serializable and
linearizable, were answered while the defrag ran (beyond etcd, which stops
serving during a defrag: etcd issue #9222)."""

import datetime
import re
import threading
import time

import grpc

from conftest import KvClient

WRITERS = 3
READERS = 2  # one serializable, one linearizable
MAX_PUTS_PER_WRITER = 20000
MAX_DEFRAGS = 8
BIG = "x" * 50_000


def fill(member, n: int) -> None:
    """n keys of 50 kB, half deleted and compacted away: defrag has work."""
    kv = KvClient(member.endpoint)
    try:
        for i in range(n):
            kv.put(f"fill/{i:05d}", BIG)
    finally:
        kv.close()
    member.ok("del", "fill/00000", f"fill/{n // 2:05d}")  # the first half
    rev = KvClient(member.endpoint)
    try:
        r = rev.put("marker", "m")
    finally:
        rev.close()
    member.ok("compact", str(r), "--physical")


def test_acknowledged_writes_survive_defrags_and_reads_go_on(etcd_factory):
    m = etcd_factory().start()
    fill(m, 1200)  # ~60 MB of values, ~25 MB of them deleted
    stop = threading.Event()
    acked: list[dict] = [dict() for _ in range(WRITERS)]  # key -> value, per writer
    reads: dict[bool, list] = {True: [], False: []}  # serializable -> [(start, end)]
    errors: list[str] = []

    def writer(w: int) -> None:
        kv = KvClient(m.endpoint)
        try:
            for i in range(MAX_PUTS_PER_WRITER):
                if stop.is_set():
                    return
                key, value = f"w{w}/{i:06d}", f"value-{w}-{i}"
                try:
                    kv.put(key, value, timeout=20)
                except grpc.RpcError as e:  # not acknowledged: need not be there
                    errors.append(f"put {key}: {e.code()}")
                    continue
                acked[w][key] = value
        finally:
            kv.close()

    def reader(serializable: bool) -> None:
        kv = KvClient(m.endpoint)
        try:
            while not stop.is_set():
                t0 = time.time()
                try:
                    _, got = kv.get("marker", serializable=serializable, timeout=20)
                    assert got and got["value"] == "m"
                    reads[serializable].append((t0, time.time()))
                except grpc.RpcError as e:
                    errors.append(f"get: {e.code()}")
                time.sleep(0.002)
        finally:
            kv.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(s,)) for s in (True, False)]
    for t in threads:
        t.start()
    # A defrag here takes ~0.1 s, so a loaded machine may answer no read that
    # begins and ends inside one: defragment until two defrags were seen
    # serving both kinds of read (a server that blocks reads never gets there).
    observed: list[str] = []
    try:
        time.sleep(0.5)
        for n in range(1, MAX_DEFRAGS + 1):
            out = m.ok("defrag", "--command-timeout=60s")
            assert out.startswith("Finished defragmenting etcd member["), out
            time.sleep(0.3)
            done = defrag_log(m)
            assert len(done) == n
            report = served_during(done[-1], reads)
            if report:
                observed.append(report)
                if len(observed) == 2:
                    break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == [], errors[:5]

    # Every acknowledged write is there, with its value.
    total = 0
    kv = KvClient(m.endpoint)
    try:
        for w in range(WRITERS):
            for key, value in acked[w].items():
                _, got = kv.get(key)
                assert got is not None and got["value"] == value, key
                total += 1
    finally:
        kv.close()
    assert total > 100

    # The first defrag had deleted values to drop: the db shrank.
    assert defrag_log(m)[0]["current-db-size-bytes-diff"] < 0
    # Reads were answered while defrags ran.
    assert len(observed) == 2, f"reads were not served during defrags: {defrag_log(m)}"
    for report in observed:
        print(report)


def defrag_log(member) -> list[dict]:
    return [e for e in member.log_entries() if e.get("msg") == "finished defragmenting directory"]


def served_during(e: dict, reads: dict[bool, list]) -> str:
    """Which reads began after the server started this defrag and were answered
    before it finished (the span from its log line's time and "took"); "" unless
    both a serializable and a linearizable one were."""
    end = parse_ts(e["ts"])
    start = end - go_seconds(e["took"])
    served = [r for r in list(reads[True]) if start <= r[0] and r[1] <= end]
    lin = [r for r in list(reads[False]) if start <= r[0] and r[1] <= end]
    if not served or not lin:
        return ""
    return f"defrag {e['took']}: {len(served)} serializable, {len(lin)} linearizable reads"


def parse_ts(ts: str) -> float:
    """zap's "2026-11-21T20:38:05.223Z" as Unix seconds."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def go_seconds(d: str) -> float:
    """A Go duration as printed ("1.5s", "250.1ms", "80µs", "1m2s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(h|ms|m|s|µs|us|ns)", d):
        total += float(num) * units[unit]
    return total
