#!/bin/sh
# Builds the seed corpora of the fuzz targets, from the repository root:
#
#   t/fuzz/seeds.sh [OUTDIR]        default: build/fuzz/corpus
#
# OUTDIR/<target>/ gets seeds made from the captured Workload API messages
# (t/unit/fixtures/*.bin), from fresh certificates (t/cert/mkcerts.py) and
# from a few handwritten inputs.  Existing files are kept: a corpus grown
# by earlier runs stays.  The input formats are described at the top of
# each t/fuzz/fuzz_*.c.

set -eu

cd "$(dirname "$0")/../.."

out=${1:-build/fuzz/corpus}
certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT

/usr/bin/python3 t/cert/mkcerts.py "$certs" >/dev/null

/usr/bin/python3 - "$out" "$certs" t/unit/fixtures <<'EOF'
import base64
import calendar
import glob
import hashlib
import json
import os
import struct
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption, Encoding, NoEncryption, PrivateFormat,
    load_pem_private_key)

out, certs, fixtures = sys.argv[1:4]
now = int(time.time())
count = {}


def seed(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    count[target] = count.get(target, 0) + 1


def read(path):
    with open(path, "rb") as f:
        return f.read()


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(number, payload) of each length-delimited field of a message"""
    i = 0
    while i < len(b):
        tag, i = varint(b, i)
        if tag & 7 == 0:
            _, i = varint(b, i)
        elif tag & 7 == 1:
            i += 8
        elif tag & 7 == 5:
            i += 4
        else:
            n, i = varint(b, i)
            yield tag >> 3, b[i:i + n]
            i += n


def varint_bytes(v):
    out = b""
    while v >= 0x80:
        out += bytes([v & 0x7f | 0x80])
        v >>= 7
    return out + bytes([v])


def frame(msg):
    return b"\0" + struct.pack(">I", len(msg)) + msg


def be32(t):
    return struct.pack(">I", t)


# the Workload API messages

pb_sel = {"x509_svid_resp": 0, "x509_bundles_resp": 1,
          "jwt_svid_resp": 2, "jwt_bundles_resp": 3, "jwt_svid_req": 2}
msgs = {}

for path in sorted(glob.glob(os.path.join(fixtures, "*.bin"))):
    name = os.path.basename(path)[:-4]
    data = read(path)
    msgs[name] = data
    kind = name[3:] if name.startswith("pb_") else name
    sel = [v for k, v in pb_sel.items() if kind.startswith(k)][0]
    seed("fuzz_pb", bytes([sel]) + data)

for sel in range(5):
    seed("fuzz_pb", bytes([sel]))

# fuzz_pb 4: JWTSVIDRequest audiences and SPIFFE ID

for auds, sid in (([b"https://api.example.org"], b"spiffe://example.org/web"),
                  ([b"a", b"", b"x" * 300], b""), ([], b"spiffe://e/x")):
    seed("fuzz_pb", b"\4" + b"".join(struct.pack(">H", len(a)) + a
                                     for a in auds) + sid)

# fuzz_svid_resp: every SVID response, with its hints, at a time its
# leaf is valid; fuzz_x509_crl: the CRLs found in them

for name, data in msgs.items():
    if "x509_svid_resp" not in name:
        continue
    hints = [b""]
    t = None
    for num, svid in fields(data):
        if num == 2:
            seed("fuzz_x509_crl", svid)
        if num != 1:
            continue
        f = dict(fields(svid))
        hints.append(f.get(5, b""))
        if t is None:
            leaf = x509.load_der_x509_certificate(
                f[2][:4 + int.from_bytes(f[2][2:4], "big")])
            t = calendar.timegm(leaf.not_valid_before.timetuple()) + 3600
    for h in sorted(set(hints)):
        seed("fuzz_svid_resp", be32(t) + bytes([len(h)]) + h + data)
    # federated bundles that repeat a trust domain
    svid = dict(fields(dict(fields(data))[1]))
    td = svid[1].split(b"/")[2]
    for key in (td, b"spiffe://" + td, b"other.org"):
        entry = b"\x0a" + bytes([len(key)]) + key + b"\x12" + \
            varint_bytes(len(svid[4])) + svid[4]
        seed("fuzz_svid_resp", be32(t) + b"\0" + data + b"\x1a" +
             varint_bytes(len(entry)) + entry)

# fuzz_grpc_reader: the messages framed, cut at a few places

bodies = [frame(msgs["x509_svid_resp"]),
          frame(msgs["x509_svid_resp_fed"]) + frame(b"") +
          frame(msgs["x509_bundles_resp"]),
          frame(msgs["jwt_bundles_resp"]) + frame(b"\x0a\x00")[:4],
          b"\1\0\0\0\1x", b"\0\0\0\x10\0" + b"y" * 16]

# bit 4: the body repeated to 96 KiB, here one message of 70000 bytes

seed("fuzz_grpc_reader", b"\x10\3" + struct.pack(">HHH", 100, 30000, 50000) +
     frame(b"z" * 20)[:1] + struct.pack(">I", 70000) + b"z" * 20)

for body in bodies:
    for flags, cuts in ((0, []), (1, [1, 5, 6]), (2, [len(body) // 2]),
                        (0, list(range(0, len(body), 97))[:16])):
        seed("fuzz_grpc_reader", bytes([flags, len(cuts)]) +
             b"".join(struct.pack(">H", c) for c in cuts) + body)

# fuzz_grpc_call: responses as libcurl passes their lines

ok = b"HTTP/2 200 \r\ncontent-type: application/grpc\r\n\r\n"
responses = [
    (0, frame(msgs["x509_svid_resp"]), ok, b"grpc-status: 0\r\n"),
    (0, frame(msgs["jwt_bundles_resp"]), ok,
     b"grpc-status: 14\r\ngrpc-message: agent%20is%20down%0d%0a\r\n"),
    (1, b"\0\0\0\0\x09abc", ok, b""),
    (0, b"", b"HTTP/2 200\r\ncontent-type: application/grpc+proto\r\n"
     b"grpc-status: 7\r\ngrpc-message: no identity issued\r\n\r\n", b""),
    (0, b"<html>", b"HTTP/1.1 503 Service Unavailable\r\n"
     b"content-type: text/html\r\n\r\n", b""),
    (0, b"", b"HTTP/2 100 \r\n\r\nHTTP/2 200 \r\n"
     b"Content-Type: application/grpc;charset=utf-8\r\n\r\n",
     b"grpc-status: 99\r\ngrpc-message: %zz%41\r\n"),
    (2, b"", b"HTTP/2 404\r\n\r\n", b""),
]

for rc, body, head, trailers in responses:
    seed("fuzz_grpc_call", bytes([rc]) + struct.pack(">H", len(body)) +
         head + body + trailers)

# fuzz_address: Workload API addresses

for a in (b"unix:/tmp/agent.sock", b"unix:///run/spire/sockets/agent.sock",
          b"UNIX:/p%41th/s%2fck", b"unix://host/x", b"unix:rel",
          b"tcp://127.0.0.1:8081", b"tcp://[::1]:8081",
          b"TCP://[2001:db8::ff00:42:8329]:65535", b"tcp://localhost:1",
          b"tcp://[::ffff:10.0.0.1]:443", b"tcp://10.0.0.1",
          b"unix:/" + b"a" * 106):
    seed("fuzz_address", a)

# fuzz_id: IDs, patterns and rules

long_id = b"spiffe://example.org" + (b"/" + b"x" * 99) * 20 + b"/" + b"x" * 7
rules = [
    b"spiffe://example.org/ns/prod/sa/web\n!spiffe://example.org/ns/*/sa/web"
    b"\nspiffe://example.org/**\n!all\nspiffe://example.org/ns/dev/sa/web",
    b"!spiffe://example.org/ns/dev/sa/web\nspiffe://example.org/ns/*/sa/*\n"
    b"spiffe://example.org/ns/dev/sa/web\nspiffe://other.org/x",
    b"~prod\n!~\nspiffe://example.org/ns/prod/sa/web\nall",
    b"spiffe://example.org\nexample.org\nweb\nspiffe://a.b-c_d.0/A/b.c",
    b"spiffe://example.org/a/**/b\nspiffe://example.org/a*/b\n"
    b"spiffe://Example.org/x\nspiffe://example.org/x/../y\n"
    b"spiffe://example.org/x/\nspiffe://example.org/p%41\n"
    b"spiffe://ex:80/x\nspiffe://u@ex/x\nspiffe://ex/x?q\nspiffe://ex/x#f",
    long_id + b"\n" + long_id + b"x\nspiffe://" + b"t" * 255 + b"/x\n"
    b"spiffe://" + b"t" * 256 + b"/x",
    b"\n".join(b"spiffe://example.org/w%d" % i for i in range(20)) +
    b"\n!spiffe://example.org/*\nspiffe://example.org/w19",
]

for r in rules:
    seed("fuzz_id", r)

# fuzz_rules: rule lists and IDs in the vocabulary of t/unit/rules_oracle.h
# (td: 0 td, 1 td2, 2 t, 3 a.b; segments: 0 a, 1 b, 2 ab, 3 *, 4 c, 5 **)

def text(td, segs, slash=False):
    return bytes([2 | td << 5, len(segs) + (0 if slash else 48)]) + \
        bytes(i << 2 for i in segs)

def pattern(deny, td, segs):
    return bytes([12 | deny]) + text(td, segs)

def matcher(deny, needle):
    return bytes([2 | deny | needle << 5])

ALL, DENY_ALL = b"\0", b"\1"

lists = [
    ([pattern(1, 0, [0, 3]), pattern(0, 0, [0, 1]), pattern(0, 0, [5]),
      DENY_ALL],
     text(0, [0, 1]) + text(0, [0, 2, 4]) + text(1, [0])),
    ([pattern(0, 0, [3, 3, 1]), pattern(1, 0, [0, 3, 5]),
      pattern(0, 0, [0, 0, 1]), matcher(1, 2), pattern(0, 1, [3])],
     text(0, [0, 0, 1]) + text(0, [0, 4, 1]) + text(1, [2]) +
     text(0, [0], True)),
    ([matcher(0, 0), pattern(1, 0, [0, 1, 4]), matcher(1, 1), ALL],
     text(0, [0, 1, 4]) + text(2, [1])),
    ([pattern(i & 1, i % 4, [i % 5, (i // 5) % 5, 5]) for i in range(40)],
     text(0, [3, 3, 3]) + text(3, [4, 4, 4, 4])),
]

# the first byte: how many rules the list has (minus one)

for rules, ids in lists:
    seed("fuzz_rules", bytes([len(rules) - 1]) + b"".join(rules) + ids)

# fuzz_x509_certs, fuzz_x509_key and fuzz_snapshot: the certificates
# and keys of mkcerts.py (DER first byte even, PEM odd)

pems = {os.path.basename(p)[:-4]: read(p)
        for p in glob.glob(os.path.join(certs, "*.pem"))}
keys = {os.path.basename(p)[:-4]: read(p)
        for p in glob.glob(os.path.join(certs, "*.key"))}
bundle = {"other": pems["ca-b"], "unknown": pems["ca-unknown"]}

for name, pem in sorted(pems.items()):
    der = b"".join(
        x509.load_pem_x509_certificate(b"-----BEGIN" + c).public_bytes(
            Encoding.DER) for c in pem.split(b"-----BEGIN")[1:])
    seed("fuzz_x509_certs", b"\0" + der)
    seed("fuzz_x509_certs", b"\1" + pem)
    if name not in keys:
        continue
    ca = bundle.get(name.split("-")[-1], pems["ca-a"])
    seed("fuzz_snapshot", be32(now) + pem + keys[name] + ca)

for name in ("good", "ca-a", "nginx"):
    key = load_pem_private_key(keys[name], None)
    seed("fuzz_x509_key", b"\0" + key.private_bytes(
        Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
    seed("fuzz_x509_key", b"\1" + keys[name])
    seed("fuzz_x509_key", b"\1" + key.private_bytes(
        Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()))
    seed("fuzz_x509_key", b"\1" + key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pw")))

# a CRL of CA A revoking "good", alone and with its SVID directory

ca = x509.load_pem_x509_certificate(pems["ca-a"])
good = x509.load_pem_x509_certificate(pems["good"])
crl = (x509.CertificateRevocationListBuilder()
       .issuer_name(ca.subject)
       .last_update(good.not_valid_before)
       .next_update(good.not_valid_after)
       .add_revoked_certificate(
           x509.RevokedCertificateBuilder()
           .serial_number(good.serial_number)
           .revocation_date(good.not_valid_before).build())
       .sign(load_pem_private_key(keys["ca-a"], None), hashes.SHA256()))
seed("fuzz_x509_crl", crl.public_bytes(Encoding.DER))
seed("fuzz_snapshot", be32(now) + pems["good"] + keys["good"] +
     crl.public_bytes(Encoding.PEM) + pems["ca-a"])

# fuzz_jwks: JWKS documents; fuzz_jwt_bundles: JWTBundlesResponses

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwk(key, kid):
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"use": "jwt-svid", "kty": "RSA", "kid": kid,
                "n": b64u(pub.n.to_bytes((pub.n.bit_length() + 7) // 8,
                                         "big")),
                "e": b64u(pub.e.to_bytes(3, "big"))}
    size = (key.curve.key_size + 7) // 8
    return {"use": "jwt-svid", "kty": "EC", "crv": "P-%d" % key.curve.key_size,
            "kid": kid, "x": b64u(pub.x.to_bytes(size, "big")),
            "y": b64u(pub.y.to_bytes(size, "big"))}


ca_der = x509.load_pem_x509_certificate(pems["ca-a"]).public_bytes(
    Encoding.DER)
rsa_key = rsa.generate_private_key(65537, 2048)
p384 = ec.generate_private_key(ec.SECP384R1())
p521 = ec.generate_private_key(ec.SECP521R1())
docs = [
    {"keys": [jwk(rsa_key, "r"), jwk(p384, "p384"), jwk(p521, "p521"),
              {"use": "x509-svid", "kty": "EC",
               "x5c": [base64.b64encode(ca_der).decode()]}],
     "spiffe_sequence": 7, "spiffe_refresh_hint": 60},
    {"keys": [jwk(p384, "same"), jwk(p521, "same"),
              dict(jwk(rsa_key, "bad-e"), e="AQ"),
              dict(jwk(p384, "short"), x="AAAA"), {"use": "other"}, 3]},
    {"keys": [], "spiffe_sequence": -1},
]
for name, data in msgs.items():
    if "jwt_bundles_resp" in name:
        seed("fuzz_jwt_bundles", data)
        for _, entry in fields(data):
            docs.append(dict(fields(entry)).get(2, b"{}"))
for d in docs:
    seed("fuzz_jwks", d if isinstance(d, bytes) else json.dumps(d).encode())


def pb_entry(key, value):
    entry = (b"\x0a" + varint_bytes(len(key)) + key + b"\x12" +
             varint_bytes(len(value)) + value)
    return b"\x0a" + varint_bytes(len(entry)) + entry


# three trust domains, one of them twice and once with the scheme

doc = json.dumps(docs[0]).encode()
seed("fuzz_jwt_bundles", pb_entry(b"spiffe://example.org", doc) +
     pb_entry(b"other.org", b'{"keys":[]}') + pb_entry(b"a.b", doc) +
     pb_entry(b"example.org", b'{"keys":[]}'))

# fuzz_base64: both alphabets

for flags, text in ((0, b"TWFu"), (0, b"TWE="), (0, b"TQ=="), (1, b"TWE"),
                    (1, b"-_-_"), (0, b"TR=="), (1, b"TQ=")):
    seed("fuzz_base64", bytes([flags]) + text)

# fuzz_jwt, first byte odd: headers and claims that the target signs;
# even: whole tokens

t0 = 1767225600
claims = [
    {"sub": "spiffe://example.org/web", "aud": "api", "exp": t0 + 3600},
    {"sub": "spiffe://example.org/web",
     "aud": ["x", "spiffe://example.org/api"], "exp": t0 + 60.5,
     "nbf": t0 - 10, "iat": t0, "extra": {"a": [1, None]}},
    {"sub": "spiffe://example.org/web", "aud": "other", "exp": t0 + 3600},
    {"sub": "spiffe://example.org/web", "aud": "api", "exp": t0 - 3600},
    {"sub": "spiffe://other.org/web", "aud": "api", "exp": t0 + 3600},
    {"sub": "spiffe://example.org", "aud": "api", "exp": t0 + 3600},
]
headers = [({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}, 0),
           ({"alg": "RS256", "kid": "rsa-1"}, 1),
           ({"alg": "PS384", "kid": "rsa-1", "typ": "JOSE"}, 1),
           ({"alg": "none", "kid": "ec-1"}, 0),
           ({"alg": "ES256", "kid": "rsa-1"}, 0),
           ({"alg": "ES256", "kid": "ec-1", "crit": ["b64"]}, 0)]
for i, (h, rsa_flag) in enumerate(headers):
    for j, c in enumerate(claims):
        if i and j > 1:
            continue
        for forge in (0, 2) if i + j == 0 else (0,):
            seed("fuzz_jwt", b"\1" + be32(t0) + bytes([rsa_flag | forge]) +
                 json.dumps(h).encode() + b"\0" + json.dumps(c).encode())

other = ec.generate_private_key(ec.SECP256R1())
signing = (b64u(json.dumps(headers[0][0]).encode()) + "." +
           b64u(json.dumps(claims[0]).encode())).encode()
r, s_ = decode_dss_signature(other.sign(signing, ec.ECDSA(hashes.SHA256())))
token = signing + b"." + b64u(r.to_bytes(32, "big") +
                              s_.to_bytes(32, "big")).encode()
for t in (token, token + b".x", b"{}", b"a.b.c"):
    seed("fuzz_jwt", b"\0" + be32(t0) + t)

# fuzz_svid_dir: the files of an svid_dir, then configured trust domains
# (td, bundle text): another domain, the own one, JWKS, nothing usable

def files(name, bundle, crl_pem=b"", *extra):
    return be32(now) + b"\0".join(
        (pems[name], keys[name], bundle, crl_pem) + extra)


crl_pem = crl.public_bytes(Encoding.PEM)
jwks_a = json.dumps(docs[0]).encode()
ws_jwks = b" \r\n\t" + jwks_a
for data in (
        files("good-int", pems["bundle-example.org"]),
        files("good", pems["ca-a"], crl_pem),
        files("good-other", pems["bundle-other.org"], b"",
              b"example.org", pems["ca-a"]),
        files("good-int", pems["ca-a"], crl_pem, b"other.org", pems["ca-b"],
              b"unknown.org", pems["ca-unknown"] + pems["good"],
              b"federated.test", b'{"keys": []}', b"none.test", b"none"),
        files("good", pems["ca-a"], b"", b"example.org",
              pems["ca-a"] + pems["ca-b"], b"other.org", ws_jwks),
        files("good-int", pems["ca-a"], b"", b"example.org", pems["int-a"]),
        files("good", pems["ca-a"], b"", b"example.org", pems["ca-b"]),
        files("good", pems["ca-a"], b"", b"example.org", pems["good"]),
        files("good", pems["ca-a"], b"", b"other.org", pems["ca-b"],
              b"other.org", pems["ca-b"]),
        files("good", pems["ca-a"], b"", b"Other.org", pems["ca-b"]),
        files("good-int", pems["int-a"]),
        files("good-int", pems["ca-b"]),
        files("expired", pems["ca-a"]),
        files("no-uri", pems["ca-a"]),
        files("good", pems["good"]),
        be32(now) + b"\0".join((pems["good"], keys["good-dev"],
                                pems["ca-a"], crl_pem))):
    seed("fuzz_svid_dir", data)

# fuzz_bundle: bundle files, PEM or JWKS

for data in (pems["bundle-example.org"], pems["ca-a"] + pems["good"],
             keys["good"] + pems["ca-b"], jwks_a, ws_jwks,
             json.dumps(docs[1]).encode(), b"{}", b"\n[]", b" "):
    seed("fuzz_bundle", data)

for target in sorted(count):
    print("seeds: %-16s %3d seeds in %s" % (
        target, count[target], os.path.join(out, target)))
EOF
