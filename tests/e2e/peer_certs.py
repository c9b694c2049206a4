"""Peer certificates for the peer-TLS suite, made as the operator guides
make them: `cfssl gencert -initca` for a CA, then `cfssl gencert -profile=peer`
(server auth and client auth usages: a member presents the same certificate
to the members that dial it and to the members it dials) with the members'
IPs as hosts, piped to `cfssljson -bare`.

    ca = PeerCa(tmp / "pki")                  # ca.pem, ca-key.pem
    crt = ca.issue("infra0", cn="etcd-peer")  # infra0.pem, infra0-key.pem
    crt.cert, crt.key, crt.serial
"""

import dataclasses
import json
import pathlib
import subprocess

CFSSL = "/usr/bin/cfssl"
CFSSLJSON = "/usr/bin/cfssljson"

CA_CONFIG = {
    "signing": {
        "default": {"expiry": "43800h"},
        "profiles": {
            "peer": {"expiry": "43800h",
                     "usages": ["signing", "key encipherment", "server auth", "client auth"]},
        },
    }
}


def _run(args, cwd, stdin=None) -> str:
    r = subprocess.run([str(a) for a in args], cwd=cwd, input=stdin, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed: {r.stderr}")
    return r.stdout


def cert_serial(path: pathlib.Path) -> int:
    out = _run(["openssl", "x509", "-in", path, "-noout", "-serial"], cwd=None)
    return int(out.strip().split("=", 1)[1], 16)


@dataclasses.dataclass
class PeerCert:
    cert: pathlib.Path
    key: pathlib.Path

    @property
    def serial(self) -> int:
        return cert_serial(self.cert)


class PeerCa:
    """A CA (ECDSA P-256, as the guides') in `directory` and the peer
    certificates it issues there."""

    def __init__(self, directory: pathlib.Path, cn: str = "etcd-peer-ca"):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "ca-config.json").write_text(json.dumps(CA_CONFIG, indent=2))
        csr = {"CN": cn, "key": {"algo": "ecdsa", "size": 256},
               "names": [{"C": "CN", "L": "GG", "ST": "SZ"}]}
        (self.dir / "ca-csr.json").write_text(json.dumps(csr))
        out = _run([CFSSL, "gencert", "-initca", "ca-csr.json"], cwd=self.dir)
        _run([CFSSLJSON, "-bare", "ca", "-"], cwd=self.dir, stdin=out)
        self.cert = self.dir / "ca.pem"
        self.key = self.dir / "ca-key.pem"

    def issue(self, name: str, cn: str = "etcd-peer",
              hosts=("127.0.0.1", "localhost")) -> PeerCert:
        """<name>.pem / <name>-key.pem (replaced when they exist: a renewal)."""
        csr = {"CN": cn, "hosts": list(hosts), "key": {"algo": "ecdsa", "size": 256},
               "names": [{"C": "CN", "L": "GG", "ST": "SZ"}]}
        (self.dir / f"{name}-csr.json").write_text(json.dumps(csr))
        out = _run([CFSSL, "gencert", f"-ca={self.cert}", f"-ca-key={self.key}",
                    "-config=ca-config.json", "-profile=peer", f"{name}-csr.json"], cwd=self.dir)
        # cfssljson writes into a scratch name, then the files are renamed
        # over the old ones: a member never reads a half-written pair.
        _run([CFSSLJSON, "-bare", f"{name}.new", "-"], cwd=self.dir, stdin=out)
        cert, key = self.dir / f"{name}.pem", self.dir / f"{name}-key.pem"
        (self.dir / f"{name}.new-key.pem").replace(key)
        (self.dir / f"{name}.new.pem").replace(cert)
        return PeerCert(cert, key)
