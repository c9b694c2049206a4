"""etcd's protobuf messages for tests that speak gRPC directly: compiled from
proto/ with protoc into a cache dir on first use (Debian's python3-protobuf
reads them), and a small client over plain gRPC method paths."""

import importlib
import pathlib
import subprocess
import sys
import tempfile

import grpc

ROOT = pathlib.Path(__file__).resolve().parents[2]
_PROTOS = ["etcdserverpb/rpc.proto", "mvccpb/kv.proto", "authpb/auth.proto",
           "v3lockpb/v3lock.proto", "v3electionpb/v3election.proto",
           "etcdserverpb/etcdserver.proto", "membershippb/membership.proto",
           "serverpb/raft_internal.proto", "raftpb/raft.proto", "walpb/record.proto"]
_out: pathlib.Path | None = None


def _compile() -> pathlib.Path:
    global _out
    if _out is None:
        out = pathlib.Path(tempfile.mkdtemp(prefix="etcdpb."))
        subprocess.run(["protoc", "-I", str(ROOT / "proto"), f"--python_out={out}", *_PROTOS],
                       check=True, capture_output=True)
        sys.path.insert(0, str(out))
        _out = out
    return _out


def rpc():
    """The etcdserverpb.rpc_pb2 module."""
    _compile()
    return importlib.import_module("etcdserverpb.rpc_pb2")


def kv():
    """The mvccpb.kv_pb2 module."""
    _compile()
    return importlib.import_module("mvccpb.kv_pb2")


def module(name: str):
    """Any compiled module by its proto path: module("raftpb/raft") is raftpb.raft_pb2."""
    _compile()
    return importlib.import_module(name.replace("/", ".") + "_pb2")


def lock():
    """The v3lockpb.v3lock_pb2 module."""
    _compile()
    return importlib.import_module("v3lockpb.v3lock_pb2")


def election():
    """The v3electionpb.v3election_pb2 module."""
    _compile()
    return importlib.import_module("v3electionpb.v3election_pb2")


class Client:
    """Unary and streaming etcd calls over one channel, typed with rpc_pb2."""

    def __init__(self, endpoint: str):
        self.pb = rpc()
        self.channel = grpc.insecure_channel(endpoint)

    def call(self, service: str, method: str, req, resp_type, timeout: float = 10.0):
        """Any unary method: call("Maintenance", "Hash", pb.HashRequest(), pb.HashResponse)."""
        call = self.channel.unary_unary(f"/etcdserverpb.{service}/{method}",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=resp_type.FromString)
        return call(req, timeout=timeout)

    def put(self, key: bytes, value: bytes, lease: int = 0, timeout: float = 10.0):
        return self.call("KV", "Put", self.pb.PutRequest(key=key, value=value, lease=lease),
                         self.pb.PutResponse, timeout)

    def range(self, key: bytes, range_end: bytes = b"", revision: int = 0,
              serializable: bool = False, timeout: float = 10.0):
        return self.call("KV", "Range",
                         self.pb.RangeRequest(key=key, range_end=range_end, revision=revision,
                                              serializable=serializable),
                         self.pb.RangeResponse, timeout)

    def delete(self, key: bytes, range_end: bytes = b"", prev_kv: bool = False):
        return self.call("KV", "DeleteRange",
                           self.pb.DeleteRangeRequest(key=key, range_end=range_end,
                                                      prev_kv=prev_kv),
                           self.pb.DeleteRangeResponse)

    def txn(self, req):
        return self.call("KV", "Txn", req, self.pb.TxnResponse)

    def compact(self, revision: int, physical: bool = False):
        return self.call("KV", "Compact",
                           self.pb.CompactionRequest(revision=revision, physical=physical),
                           self.pb.CompactionResponse)

    def lease_grant(self, ttl: int, lease_id: int = 0):
        return self.call("Lease", "LeaseGrant", self.pb.LeaseGrantRequest(TTL=ttl, ID=lease_id),
                           self.pb.LeaseGrantResponse)

    def lease_revoke(self, lease_id: int):
        return self.call("Lease", "LeaseRevoke", self.pb.LeaseRevokeRequest(ID=lease_id),
                           self.pb.LeaseRevokeResponse)

    def watch(self, requests):
        """A Watch stream fed by the `requests` iterator; returns the
        response iterator (cancel() it to end the stream)."""
        call = self.channel.stream_stream("/etcdserverpb.Watch/Watch",
                                          request_serializer=lambda m: m.SerializeToString(),
                                          response_deserializer=self.pb.WatchResponse.FromString)
        return call(requests)

    def close(self):
        self.channel.close()
