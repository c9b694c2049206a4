"""Readers of etcd's on-disk files for the disk-format tests, written from
the format (docs/storage.md), independent of the C++ code: the WAL's
record framing and CRC chain, and the .snap file's envelope.

WAL segment: records back to back, each an 8-byte little-endian length
word (low 56 bits: the record's size; top byte 0x80|n when n padding bytes
follow the record to keep 8-byte alignment), then a walpb.Record
{type = 1, crc = 2, data = 3}. A zero length word (preallocated space)
ends the segment. Each record's crc is CRC-32C over the data of every
non-crc record so far, chained across segments: a segment opens with a
crc record (type 4, no data) carrying the running value in.

.snap file: a snappb.snapshot {crc = 1 (uint32), data = 2 (bytes)}; crc is
CRC-32C of data, which is a marshalled raftpb.Snapshot.
"""

import pathlib
import struct

import etcdpb

METADATA, ENTRY, STATE, CRC, SNAPSHOT = 1, 2, 3, 4, 5

_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of data, continuing from crc (Go's crc32.Update)."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class Record:
    def __init__(self, type: int, crc: int, data: bytes, raw: bytes):
        self.type, self.crc, self.data, self.raw = type, crc, data, raw

    def __repr__(self):
        return f"Record(type={self.type}, crc={self.crc:#x}, {len(self.data)} bytes)"


def segments(wal_dir) -> list[pathlib.Path]:
    return sorted(pathlib.Path(wal_dir).glob("*.wal"))


def read_segment(path) -> list[Record]:
    """The records of one segment, framing checked (padding bytes are zero)."""
    pb = etcdpb.module("walpb/record")
    buf = pathlib.Path(path).read_bytes()
    out, off = [], 0
    while off + 8 <= len(buf):
        (word,) = struct.unpack_from("<Q", buf, off)
        if word == 0:
            break
        size = word & ((1 << 56) - 1)
        pad = (word >> 56) & 0x7 if word >> 63 else 0
        assert (size + pad) % 8 == 0, f"{path}@{off}: record not 8-byte aligned"
        assert word >> 56 in (0, 0x80 | pad), f"{path}@{off}: bad length word {word:#x}"
        raw = buf[off + 8:off + 8 + size]
        assert len(raw) == size, f"{path}@{off}: torn record"
        assert buf[off + 8 + size:off + 8 + size + pad] == b"\0" * pad, f"{path}@{off}: padding"
        rec = pb.Record.FromString(raw)
        out.append(Record(rec.type, rec.crc, rec.data, raw))
        off += 8 + size + pad
    return out


def read_wal(wal_dir) -> list[Record]:
    """Every record of every segment in order, the CRC chain checked as
    etcd's decoder checks it."""
    records, running = [], 0
    for seg in segments(wal_dir):
        for rec in read_segment(seg):
            if rec.type == CRC:
                assert running == 0 or rec.crc == running, f"{seg}: crc record mismatch"
                assert rec.data == b""
                running = rec.crc
            else:
                running = crc32c(rec.data, running)
                assert rec.crc == running, f"{seg}: CRC chain broken at {rec}"
            records.append(rec)
    return records


def proto_fields(buf, what="message"):
    """(field number, value) of each field of a protobuf message, decoded by
    hand: varints (wire type 0) as ints, length-delimited (2) as bytes."""
    off = 0

    def varint():
        nonlocal off
        v, shift = 0, 0
        while True:
            b = buf[off]
            off += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    out = []
    while off < len(buf):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            out.append((num, varint()))
        elif wt == 2:
            n = varint()
            out.append((num, buf[off:off + n]))
            off += n
        else:
            raise AssertionError(f"{what}: unexpected wire type {wt}")
    return out


def read_snap(path):
    """(raftpb.Snapshot, raw envelope fields): the .snap envelope decoded by
    hand (two fields), its CRC checked."""
    buf = pathlib.Path(path).read_bytes()
    fields = {num: value for num, value in proto_fields(buf, str(path))}
    assert set(fields) == {1, 2}, f"{path}: fields {sorted(fields)}"
    assert fields[1] == crc32c(fields[2]), f"{path}: crc mismatch"
    snap = etcdpb.module("raftpb/raft").Snapshot.FromString(fields[2])
    return snap, fields
