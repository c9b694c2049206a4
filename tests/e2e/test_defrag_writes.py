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
    put_times: list[list] = [[] for _ in range(WRITERS)]  # (start, end) per put
    reads: dict[bool, list] = {True: [], False: []}  # serializable -> [(start, end)]
    errors: list[str] = []

    def writer(w: int) -> None:
        kv = KvClient(m.endpoint)
        try:
            for i in range(MAX_PUTS_PER_WRITER):
                if stop.is_set():
                    return
                key, value = f"w{w}/{i:06d}", f"value-{w}-{i}"
                t0 = time.time()
                try:
                    kv.put(key, value, timeout=20)
                except grpc.RpcError as e:  # not acknowledged: need not be there
                    errors.append(f"put {key}: {e.code()}")
                    continue
                put_times[w].append((t0, time.time()))
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
    defrags = []
    try:
        time.sleep(0.5)
        for _ in range(2):
            t0 = time.time()
            out = m.ok("defrag", "--command-timeout=60s")
            defrags.append((t0, time.time()))
            assert out.startswith("Finished defragmenting etcd member["), out
            time.sleep(0.3)
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

    # The server logged both defrags, and the db shrank at least once.
    done = [e for e in m.log_entries() if e.get("msg") == "finished defragmenting directory"]
    assert len(done) == 2
    assert done[0]["current-db-size-bytes-diff"] < 0

    # Reads were answered while each defrag ran: requests that began after
    # the server started defragmenting and were answered before it finished
    # (the span from its log line's time and "took").
    for e in done:
        end = parse_ts(e["ts"])
        start = end - go_seconds(e["took"])
        assert go_seconds(e["took"]) > 0.05, e["took"]  # long enough to observe
        served = [r for r in reads[True] if start <= r[0] and r[1] <= end]
        assert served, f"no serializable read during the defrag of {e['took']}"
        lin = [r for r in reads[False] if start <= r[0] and r[1] <= end]
        assert lin, f"no linearizable read during the defrag of {e['took']}"
        during = [p for w in put_times for p in w if p[0] < end and p[1] > start]
        print(f"defrag {e['took']}: {len(served)} serializable, {len(lin)} linearizable reads, "
              f"{len(during)} puts overlapping, longest "
              f"{max((p[1] - p[0] for p in during), default=0):.3f}s")


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
