"""Certificates for the TLS suites, made as the operator guides make them:
cfssl with a ca-config.json of server/client/peer profiles and CSR JSON
files (RSA or ECDSA keys), piped to cfssljson -bare. cfssl also makes the
CRLs (cfssl gencrl) and, with a profile of one second, expired
certificates; openssl reads serials and fingerprints.

    pki = Pki(tmp_path / "pki")                  # ca.pem, ca-key.pem
    server = pki.issue("server", "server", cn="etcd", hosts=["127.0.0.1", "localhost"])
    client = pki.issue("client", "client", cn="client", algo="rsa", size=2048)
    server.cert, server.key                      # paths
    crl = pki.crl([client.serial])               # PEM file of revoked serials
"""

import base64
import dataclasses
import json
import pathlib
import subprocess
import time

CFSSL = "/usr/bin/cfssl"
CFSSLJSON = "/usr/bin/cfssljson"

# The guides' ca-config.json: profiles for server, client and peer
# certificates, and one of a second to make certificates that expire.
CA_CONFIG = {
    "signing": {
        "default": {"expiry": "43800h"},
        "profiles": {
            "server": {"expiry": "43800h",
                       "usages": ["signing", "key encipherment", "server auth", "client auth"]},
            "client": {"expiry": "43800h",
                       "usages": ["signing", "key encipherment", "client auth"]},
            "peer": {"expiry": "43800h",
                     "usages": ["signing", "key encipherment", "server auth", "client auth"]},
            "short": {"expiry": "1s",
                      "usages": ["signing", "key encipherment", "client auth"]},
        },
    }
}

NAMES = [{"C": "CN", "L": "Shanghai", "ST": "Shanghai"}]


@dataclasses.dataclass
class Issued:
    cert: pathlib.Path
    key: pathlib.Path

    @property
    def serial(self) -> int:
        return cert_serial(self.cert)


def _run(args, cwd, stdin=None) -> str:
    r = subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed: {r.stderr}")
    return r.stdout


def cert_serial(path: pathlib.Path) -> int:
    out = _run(["openssl", "x509", "-in", str(path), "-noout", "-serial"], cwd=None)
    return int(out.strip().split("=", 1)[1], 16)


class Pki:
    """A CA made with `cfssl gencert -initca` in `directory`, and the
    certificates it issues."""

    def __init__(self, directory: pathlib.Path, ca_cn: str = "local-etcd-ca",
                 algo: str = "rsa", size: int = 2048):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "ca-config.json").write_text(json.dumps(CA_CONFIG, indent=2))
        csr = {"CN": ca_cn, "key": {"algo": algo, "size": size},
               "names": [{**NAMES[0], "O": "etcd-tests", "OU": "devops"}]}
        (self.dir / "ca-csr.json").write_text(json.dumps(csr, indent=2))
        out = _run([CFSSL, "gencert", "-initca", "ca-csr.json"], cwd=self.dir)
        _run([CFSSLJSON, "-bare", "ca", "-"], cwd=self.dir, stdin=out)
        self.ca = self.dir / "ca.pem"
        self.ca_key = self.dir / "ca-key.pem"

    def issue(self, name: str, profile: str, cn: str, hosts=(), algo: str = "ecdsa",
              size: int = 256) -> Issued:
        """`cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json
        -profile=<profile> <name>.json | cfssljson -bare <name>`."""
        csr = {"CN": cn, "hosts": list(hosts), "key": {"algo": algo, "size": size},
               "names": NAMES}
        (self.dir / f"{name}.json").write_text(json.dumps(csr, indent=2))
        out = _run([CFSSL, "gencert", "-ca=ca.pem", "-ca-key=ca-key.pem",
                    "-config=ca-config.json", f"-profile={profile}", f"{name}.json"],
                   cwd=self.dir)
        _run([CFSSLJSON, "-bare", name], cwd=self.dir, stdin=out)
        return Issued(self.dir / f"{name}.pem", self.dir / f"{name}-key.pem")

    def issue_expired(self, name: str, cn: str) -> Issued:
        """A client certificate of the one-second profile, returned once it
        has expired."""
        issued = self.issue(name, "short", cn)
        time.sleep(2.0)
        return issued

    def crl(self, serials, name: str = "crl", der: bool = False) -> pathlib.Path:
        """`cfssl gencrl` of the given serials (it prints base64 DER): written
        as PEM, or as DER with der=True. (cfssl 1.2 reads its optional TIME
        argument as a file name: the default validity of a week is kept.)"""
        (self.dir / f"{name}-serials.txt").write_text("".join(f"{s}\n" for s in serials))
        out = _run([CFSSL, "gencrl", f"{name}-serials.txt", "ca.pem", "ca-key.pem"],
                   cwd=self.dir)
        raw = base64.b64decode(out.strip())
        if der:
            path = self.dir / f"{name}.der"
            path.write_bytes(raw)
        else:
            path = self.dir / f"{name}.pem"
            body = base64.encodebytes(raw).decode().replace("\n", "")
            lines = [body[i:i + 64] for i in range(0, len(body), 64)]
            path.write_text("-----BEGIN X509 CRL-----\n" + "\n".join(lines) +
                            "\n-----END X509 CRL-----\n")
        return path
