#!/usr/bin/python3
"""Regenerate the Workload API fixtures in t/unit/fixtures/.

    /usr/bin/python3 t/agent/capture.py [OUTDIR]

Starts t/agent/agent.py twice in temporary directories, reads the first
message of each stream as raw bytes (the protobuf payload, without gRPC's
5-byte prefix) and writes:

    x509_svid_resp.bin      FetchX509SVID, one SVID, no federation, no CRL
    x509_svid_resp_fed.bin  FetchX509SVID, two SVIDs with hints, a CRL and
                            a federated bundle for spiffe://other.org
    x509_bundles_resp.bin   FetchX509Bundles from the same agent
    jwt_bundles_resp.bin    JWTBundlesResponse built directly with the
                            generated classes: one entry, a JWKS text

SVIDs get a 20-year lifetime so the fixtures stay valid; keys and serials
differ on every run.  The JWKS key is derived from a fixed scalar, so
jwt_bundles_resp.bin is the same on every run.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import grpc
from cryptography.hazmat.primitives.asymmetric import ec

HERE = os.path.dirname(os.path.abspath(__file__))
TTL = 20 * 365 * 86400


class Agent:
    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="spiffe-capture-")
        self.sock = os.path.join(self.dir, "agent.sock")
        self.pidfile = os.path.join(self.dir, "agent.pid")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "agent.py"),
             "--state", self.dir, "--pidfile", self.pidfile,
             "--log", os.path.join(self.dir, "agent.log")] + list(args),
            stdout=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(self.pidfile):
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit("agent did not start, see %s" % self.dir)
            time.sleep(0.02)
        sys.path.insert(0, os.path.join(self.dir, "gen",
                                        os.listdir(os.path.join(
                                            self.dir, "gen"))[0]))
        self.channel = grpc.insecure_channel("unix:" + self.sock)

    def control(self, line):
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.path.join(self.dir, "control.sock"))
        s.sendall(line.encode() + b"\n")
        reply = s.makefile().readline().strip()
        s.close()
        if not reply.startswith("OK"):
            raise SystemExit("control %r: %s" % (line, reply))
        return reply

    def first(self, method):
        call = self.channel.unary_stream("/SpiffeWorkloadAPI/" + method)(
            b"", metadata=[("workload.spiffe.io", "true")], timeout=5)
        msg = next(iter(call))
        call.cancel()
        return msg

    def stop(self):
        self.channel.close()
        self.proc.terminate()
        self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def jwks():
    key = ec.derive_private_key(0x5eed5eed5eed5eed, ec.SECP256R1())
    nums = key.public_key().public_numbers()

    def b64(n):
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(
            b"=").decode()

    return json.dumps({
        "keys": [{"kty": "EC", "crv": "P-256", "x": b64(nums.x),
                  "y": b64(nums.y), "kid": "fixture-key-1",
                  "use": "jwt-svid"}],
        "spiffe_refresh_hint": 300,
        "spiffe_sequence": 1,
    }, separators=(",", ":")).encode()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "unit", "fixtures")
    os.makedirs(out, exist_ok=True)
    files = {}

    a = Agent("--ttl", str(TTL))
    try:
        files["x509_svid_resp.bin"] = a.first("FetchX509SVID")
    finally:
        a.stop()

    a = Agent("--ttl", str(TTL),
              "--svid", "spiffe://example.org/nginx,hint=internal",
              "--svid", "spiffe://example.org/nginx-ext,hint=external")
    try:
        a.control("new-td other.org")
        a.control("federate other.org")
        serial = a.control("mint spiffe://example.org/revoked revoked")
        a.control("revoke " + serial.split()[1].split("=")[1])
        files["x509_svid_resp_fed.bin"] = a.first("FetchX509SVID")
        files["x509_bundles_resp.bin"] = a.first("FetchX509Bundles")
        import workload_pb2
        m = workload_pb2.JWTBundlesResponse()
        m.bundles["spiffe://example.org"] = jwks()
        files["jwt_bundles_resp.bin"] = m.SerializeToString()
    finally:
        a.stop()

    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print("%-24s %5d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
