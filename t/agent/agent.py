#!/usr/bin/python3
"""A SPIFFE Workload API server for tests.

Serves X.509-SVIDs and bundles over gRPC (HTTP/2) on a unix socket, the way
a SPIRE agent or tbot does, and lets a test suite drive rotations and faults
through a line-based control socket.  Run it with Debian's interpreter
(/usr/bin/python3), which has grpcio, grpc_tools, protobuf and cryptography.

    /usr/bin/python3 t/agent/agent.py --state DIR [--socket PATH]
        [--control PATH] [--tcp 127.0.0.1:PORT] [--trust-domain TD]
        [--spiffe-id ID[,hint=H]] [--svid ID[,hint=H]]... [--ttl SECONDS]
        [--intermediate] [--auto-rotate] [--down] [--pidfile FILE]
        [--log FILE] [--jwt-alg ALG] [--jwt-ttl SECONDS]
        [--jwt-refresh-hint SECONDS] [--jwks spire|spiffe] [--bare-keys]

Ready when the pidfile exists (it is written last, after both sockets are
listening, or only the control socket with --down); "READY ..." is also
printed on stdout and logged.

State directory layout (PEM; rewritten, atomically per file, on changes):

    ca.pem, ca.key           current root CA of the own trust domain
    intermediate.pem/.key    issuing intermediate CA (--intermediate only)
    bundle.pem               own trust bundle: current root (+ the previous
                             one after "rotate-ca keep-old")
    svid.pem                 default SVID: leaf, then intermediate if any
    svid_key.pem             its key, PKCS#8 (svid.pem, svid_key.pem and
    svid_bundle.pem          svid_bundle.pem are tbot's file names)
    svid<N>.pem, svid<N>_key.pem   the N-th further SVID (N = 1, 2, ...)
    crl.pem                  the CRLs served, when "crl on" or "revoke"
    federated/<TD>.pem       each federated bundle as served
    <TD>/ca.pem, <TD>/ca.key CA of another trust domain made by "new-td TD"
    jwks/<TD>.json           each JWT bundle as FetchJWTBundles serves it
    agent.sock, control.sock default socket paths
    gen/                     protobuf/gRPC stubs generated from workload.proto

Keys are written world-readable on purpose: they are throwaway test keys and
nginx workers may run as another user.

What it sends is shaped like a SPIRE agent's (1.13): map keys are
"spiffe://TD" ("--bare-keys" or "keys bare": "TD", as other agents send
them), and FetchJWTBundles sends each trust domain's JWT keys as a plain
JWK Set, indented, with neither "use" nor "x5c" nor "spiffe_*" members
(SPIRE's bundleutil.StandardJWKS; "keys" is [] when there are none):

    {
        "keys": [
            {
                "kty": "EC", "kid": .., "crv": "P-256", "x": .., "y": ..
            }, ...
        ]
    }

With "--jwks spiffe" (or "jwks spiffe") FetchJWTBundles sends instead the
SPIFFE bundle document, as jwks/<TD>.json holds it:

    {"keys": [{"use": "x509-svid", "kty": "EC", "crv": "P-256", "x": ..,
               "y": .., "x5c": ["<base64 DER of a CA cert>"]}, ...,
              {"use": "jwt-svid", "kid": .., "kty": "EC", ...}, ...],
     "spiffe_sequence": N, "spiffe_refresh_hint": S}

JWT-SVIDs.  Every trust domain the agent has a CA for (its own, and each
made by "new-td") also has a JWT signing key with a random kid, of the
--jwt-alg family (EC P-256 for the default ES256; RSA keys are 2048 bits).
FetchJWTBundles streams a JWTBundlesResponse for the own trust domain and
each federated one.  In the SPIFFE document, X.509 authorities come first
(the certificates of the bundle), then the JWT keys (those of a federated
trust domain only when "new-td" made it).  The sequence of a trust domain
grows by one each time its keys change; a message goes out on each stream
when any bundle changed.  FetchJWTSVID
(unary) answers a JWTSVIDRequest with one JWT-SVID per SVID, default first
(or for the requested spiffe_id only), as a SPIRE agent does: header
{"alg", "kid", "typ": "JWT"}, claims {"aud" (a string when one audience
was asked, else an array), "exp": now + --jwt-ttl, "iat", "sub"}.  No
audience: INVALID_ARGUMENT.  "fail" and "stall" apply to both.
ValidateJWTSVID is not implemented (UNIMPLEMENTED).

Control socket: one command per line, one reply line each ("OK ..." or
"ERR ..."); several lines may share a connection.  The same socket also
answers HTTP/1.0 and HTTP/1.1, one request per connection, so that an
nginx under test can drive the agent in the middle of a test block:

    GET /<word>/<word>...[?wait_ms=N][&arg=VALUE...] HTTP/1.1

runs the command whose words are the path segments, each percent-decoded
(GET /rotate-svid/spiffe:%2F%2Fexample.org%2Fnginx-2), followed by the
"arg" query values, in order (query values are form-decoded).  wait_ms
(0..60000) makes the agent sleep that long after the command and before it
replies, to give nginx time to take in what the command sent.  The reply
line is the body (text/plain); the status is 200 for "OK ...", 409 for
"ERR ...", 400 for a request it cannot read, 405 for a method other than
GET or HEAD.  The connection is closed after the reply.  nginx decodes
%2F in the URI before a "proxy_pass" with a URI part sends it on, so
from nginx pass an argument that holds "/" as "arg":

    location /ctl/ { proxy_pass http://unix:$TEST_NGINX_AGENT_CONTROL:/; }
    GET /ctl/rotate-svid?arg=spiffe://example.org/nginx-2&wait_ms=300

Commands:

    rotate-svid [ID]            new keys and certs for all SVIDs, same CA;
                                with ID, the default SVID gets that SPIFFE
                                ID (in the agent's trust domain) from now on;
                                replies OK serial=<default SVID serial, hex>
                                id=<default SVID's ID>
    rotate-ca [keep-old]        new CA (and intermediate), new SVIDs; the
                                bundle holds the new CA (and the old one)
    new-td TD                   new CA for trust domain TD in DIR/TD/ (not
                                federated yet)
    federate TD [PEMFILE|jwt-only]
                                add/replace TD's federated bundle from a PEM
                                file of CA certs (default DIR/TD/ca.pem);
                                jwt-only: no X.509 authority (an empty
                                federated bundle, as SPIRE sends for a
                                JWT-only or fully revoked trust domain),
                                the JWT keys of "new-td TD" only
    jwks spire|spiffe           the form of FetchJWTBundles from now on
                                (see above); pushes the bundles
    keys bare|spiffe            map keys "TD" or "spiffe://TD" from now on;
                                pushes every stream
    unfederate TD               remove it
    mint ID OUTPREFIX [ca=own|TD] [ttl=S]
                                write OUTPREFIX.pem (leaf+chain) and
                                OUTPREFIX.key (PKCS#8); a relative OUTPREFIX
                                is taken from DIR; the ID is not checked
    add-svid ID[,hint=H]        serve one more SVID;  drop-svid ID
    crl on|off                  serve CRLs (signed by the issuing CA, and by
                                the root too with --intermediate)
    revoke SERIALHEX            add a serial to the issuing CA's CRL
    fail permission_denied|unavailable|invalid_argument|off [METHOD...]
                                answer every call with that status; end the
                                open streams with it.  With METHODs
                                (FetchX509SVID, FetchX509Bundles,
                                FetchJWTBundles, FetchJWTSVID,
                                ValidateJWTSVID), only calls of those
    end-stream [always|off]     end open streams with status OK; always:
                                also every later stream, after its first
                                message (an agent that loops)
    stall on [MS]|off           accept calls but send nothing until off (or
                                for MS milliseconds)
    send garbage|oversized|expired|mismatched|missing-fields|empty
                                one bad X509SVIDResponse on each open
                                FetchX509SVID stream (the stream stays open
                                and serves normally after); replies sent=N
    junk bytes|grpc|off         new connections to the unix socket get
                                junk instead of the Workload API: "bytes",
                                bytes that are not HTTP/2; "grpc", an
                                HTTP/2 answer (200, application/grpc) whose
                                gRPC message prefix has flags no message
                                has.  Streams already open go on (the
                                gRPC server's socket is kept under a second
                                name until "off" puts it back); end them
                                with "end-stream" to make nginx reconnect.
                                "down", "up" and "restart" turn it off
    status                      serial, CA fingerprint, streams, calls,
                                and jwt_alg, jwt_kid (current key of the
                                own trust domain), jwt_keys (published),
                                jwt_seq (its spiffe_sequence), jwt_ttl,
                                jwt_streams (FetchJWTBundles streams open),
                                jwt_svid_calls (FetchJWTSVID calls received,
                                failed ones too), jwt_svids (tokens issued),
                                jwks (spire|spiffe), keys (spiffe|bare)
    ttl SECONDS                 lifetime of SVIDs minted from now on
    wait-streams N [TIMEOUT_MS] wait (default 5000 ms) until N
                                FetchX509SVID streams are open and have
                                each sent all that was queued for them (not
                                while stalled); replies OK ready=N, or ERR
                                on timeout
    down                        stop serving the Workload API: open calls are
                                cancelled, the listeners closed, new
                                connections refused (the control socket stays)
    up                          serve it again (same state)
    restart [down]              the agent process re-executes itself, as if
                                killed and started again: every Workload API
                                connection drops at once, without a status,
                                and the socket refuses connections until the
                                new image listens (about 0.2 s; with "down",
                                until "up").  The control socket is handed
                                over, so control requests sent meanwhile wait
                                in its backlog.  The new image starts from
                                the command line again: new CA and SVIDs,
                                same IDs, faults and runtime changes gone.
                                The pid stays the same.
    signal SIG PIDFILE          send SIGHUP, SIGQUIT, SIGTERM, SIGUSR1,
                                SIGUSR2 or SIGWINCH (SIG without "SIG") to
                                the process whose pid PIDFILE holds, e.g.
                                reload the nginx under test mid-block
    quit                        stop the agent (after the reply)

JWT commands (TD: a trust domain name, "spiffe://TD" or "own"; default
the agent's own):

    new-td TD [jwt-alg=ALG]     (see above) also makes TD's JWT key, of ALG's
                                family (default --jwt-alg); replies kid=
    rotate-jwt-key [keep-old] [td=TD]
                                the staged next key (see next-jwt-key), or a
                                new one, becomes the current key; the bundle
                                keeps the previous key only with keep-old;
                                pushes the bundles; replies OK td= kid=<new>
                                old=<previous> seq=<spiffe_sequence>
    next-jwt-key [td=TD]        stage the key that the next rotate-jwt-key
                                publishes, not published before; replies
                                OK td= kid=; tokens signed with it in
                                advance: mint-jwt ... key=next
    jwt-ttl SECONDS             lifetime of the JWT-SVIDs of FetchJWTSVID
                                from now on
    jwt-svid-id [TEXT]          the spiffe_id field FetchJWTSVID sends with
                                every token, whatever it is (none: the
                                SVID's own ID again)
    jwt-svid-calls              OK calls=N intervals_ms=A,B,... : the
                                FetchJWTSVID calls received and the time
                                between each two ("-" when under two)
    mint-jwt SUB AUD[,AUD2...] [ttl=S] [alg=ALG] [td=TD] [kid=KID]
             [key=next] [exp=T] [nbf=T] [iat=T] [typ=TYP] [claim.NAME=V]
                                a JWT-SVID signed by TD's key (default: the
                                key of SUB's trust domain if the agent has
                                one, else its own); replies OK token=<JWT>
                                kid=<kid in the header> td=<signing TD>.
                                One AUD is a string claim, several (comma-
                                separated) an array, "-" none; SUB "-": no
                                sub (SUB is not checked).  exp defaults to
                                now + ttl (default: jwt-ttl), iat to now;
                                T is a UNIX time, +N or -N seconds from now,
                                or "none" (claim left out).  kid=none,
                                typ=none leave the header member out.
                                alg= of another key family than TD's: a key
                                of that family is made for TD once, added to
                                its bundle and pushed (the reply then ends
                                with added=<kid>).  claim.NAME=V adds or
                                overrides a claim: V as JSON if it parses,
                                else as a string.  key=next signs with the
                                staged next key.
    forge-jwt KIND SUB AUD [mint-jwt options]
                                a token that must be refused, replies
                                OK token=...; KIND:
                                  none      alg "none", empty signature
                                  hs256     HS256, the public key PEM of the
                                            signing key as HMAC secret
                                  badsig    one signature bit flipped
                                  wrongkid  a kid in no bundle
                                  nokid     no kid in the header
                                  untrusted the trusted kid, signed by a key
                                            in no bundle
                                  expired   exp an hour ago
                                  future-nbf nbf in an hour
                                  typ       typ "xyz"
                                  json      the JWS JSON serialization
                                            (flattened) of a valid token
                                  long      over 16 KiB (a 17 KiB claim),
                                            validly signed
                                  truncated the signature cut to a length
                                            no base64url text has
                                  keyalg    alg of another key family than
                                            the kid's key
                                  crit      a "crit" header member
    send-jwt-bundles garbage|not-json|no-keys|bad-td|empty|state
                                one message on each FetchJWTBundles stream:
                                not protobuf; own bundle not JSON; own
                                bundle without "keys"; a bad trust domain
                                name as a map key; a valid message without
                                any bundle; or the current state again
                                (also sent by the next change after any of
                                these)

Serials are printed as lowercase hex, whole bytes, no separators.
"""

import argparse
import base64
import collections
import datetime
import hashlib
import hmac
import importlib
import inspect
import json
import logging
import os
import re
import shlex
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = "SpiffeWorkloadAPI"
MAX_SEND = 16 * 1024 * 1024
OVERSIZE = 4 * 1024 * 1024 + 1024
MAX_WAIT_MS = 60000

# "junk": what a connection gets instead of the Workload API
JUNK_MODES = ("bytes", "grpc")
JUNK_BYTES = b"junk: this is not HTTP/2\r\n" * 4
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_SETTINGS = 0, 1, 4
# HPACK: ":status: 200" (static index 8), then "content-type:
# application/grpc" as a literal without indexing, name index 31
JUNK_H2_HEADERS = b"\x88\x0f\x10\x10application/grpc"
# a gRPC message prefix with flags 2 (only 0 and 1 exist), 4 bytes
JUNK_GRPC_MESSAGE = b"\x02\x00\x00\x00\x04junk"
SIGNALS = ("HUP", "QUIT", "TERM", "USR1", "USR2", "WINCH")

log = logging.getLogger("agent")


# ---------------------------------------------------------------- stubs

def load_stubs(proto, gen_root):
    """Generate workload_pb2 (and _grpc) into gen_root/<hash>/, import it."""
    with open(proto, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    out = os.path.join(gen_root, digest)
    if not os.path.exists(os.path.join(out, "workload_pb2.py")):
        from grpc_tools import protoc
        os.makedirs(gen_root, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=gen_root, prefix=".gen-")
        rc = protoc.main(["protoc", "-I", os.path.dirname(proto),
                          "--python_out=" + tmp,
                          "--grpc_python_out=" + tmp, proto])
        if rc != 0:
            raise SystemExit("protoc failed on %s" % proto)
        try:
            os.rename(tmp, out)
        except OSError:
            pass    # another agent generated it first
    sys.path.insert(0, out)
    return importlib.import_module("workload_pb2")


# ---------------------------------------------------------------- X.509

def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def serial_hex(cert):
    n = cert.serial_number
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big").hex()


def fingerprint(cert):
    return cert.fingerprint(hashes.SHA256()).hex()


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_der(key):
    return key.private_bytes(serialization.Encoding.DER,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class CA:
    """A signing CA: key, cert, and the chain sent after a leaf it signs."""

    def __init__(self, key, cert, chain=()):
        self.key = key
        self.cert = cert
        self.chain = list(chain)

    @classmethod
    def root(cls, td, lifetime, label="root"):
        key = new_key()
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ngx_spiffe test"),
            x509.NameAttribute(NameOID.COMMON_NAME, "%s %s CA %s" % (
                td, label, os.urandom(4).hex())),
        ])
        cert = cls._ca_cert(name, name, key, key, td, lifetime)
        return cls(key, cert)

    def intermediate(self, td, lifetime):
        key = new_key()
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ngx_spiffe test"),
            x509.NameAttribute(NameOID.COMMON_NAME, "%s intermediate CA %s" % (
                td, os.urandom(4).hex())),
        ])
        cert = self._ca_cert(name, self.cert.subject, key, self.key, td,
                             lifetime, issuer_cert=self.cert)
        return CA(key, cert, [cert] + self.chain)

    @staticmethod
    def _ca_cert(subject, issuer, key, signer, td, lifetime,
                 issuer_cert=None):
        now = utcnow()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        if issuer_cert is None:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(
                key.public_key())
        else:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_cert.public_key())
        b = (x509.CertificateBuilder()
             .subject_name(subject).issuer_name(issuer)
             .public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(seconds=lifetime))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                            critical=True)
             .add_extension(x509.KeyUsage(
                 digital_signature=False, content_commitment=False,
                 key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=True, crl_sign=True,
                 encipher_only=False, decipher_only=False), critical=True)
             .add_extension(ski, critical=False)
             .add_extension(aki, critical=False)
             .add_extension(x509.SubjectAlternativeName([
                 x509.UniformResourceIdentifier("spiffe://" + td)]),
                 critical=False))
        return b.sign(signer, hashes.SHA256())

    def leaf(self, spiffe_id, ttl, key=None, not_before=None):
        """An X.509-SVID for spiffe_id valid ttl seconds from now (or from
        not_before); returns (key, cert)."""
        key = key or new_key()
        now = utcnow()
        if not_before:
            nb, na = not_before, not_before + datetime.timedelta(seconds=ttl)
        else:
            # backdated a little for clock skew, as SPIRE does
            nb = now - datetime.timedelta(seconds=30)
            na = now + datetime.timedelta(seconds=ttl)
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([
                 x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                    "ngx_spiffe test"),
                 x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER,
                                    os.urandom(8).hex())]))
             .issuer_name(self.cert.subject)
             .public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(nb)
             .not_valid_after(na)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                            critical=True)
             .add_extension(x509.KeyUsage(
                 digital_signature=True, content_commitment=False,
                 key_encipherment=False, data_encipherment=False,
                 key_agreement=True, key_cert_sign=False, crl_sign=False,
                 encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([
                 ExtendedKeyUsageOID.SERVER_AUTH,
                 ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                 key.public_key()), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 self.cert.public_key()), critical=False)
             .add_extension(x509.SubjectAlternativeName([
                 x509.UniformResourceIdentifier(spiffe_id)]), critical=False))
        return key, b.sign(self.key, hashes.SHA256())

    def crl(self, serials, lifetime):
        now = utcnow()
        b = (x509.CertificateRevocationListBuilder()
             .issuer_name(self.cert.subject)
             .last_update(now - datetime.timedelta(minutes=1))
             .next_update(now + datetime.timedelta(seconds=lifetime)))
        for s in sorted(serials):
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(s)
                .revocation_date(now).build())
        return b.sign(self.key, hashes.SHA256())


class SVID:
    def __init__(self, spiffe_id, hint, key, cert, chain):
        self.spiffe_id = spiffe_id
        self.hint = hint
        self.key = key
        self.cert = cert
        self.chain = chain
        self.minted = datetime.datetime.utcnow()


def parse_id_hint(text):
    """'ID[,hint=H]' -> (ID, H)."""
    parts = text.split(",")
    hint = ""
    for p in parts[1:]:
        if p.startswith("hint="):
            hint = p[5:]
        else:
            raise ValueError("unknown SVID option %r" % p)
    return parts[0], hint


def trust_domain_of(spiffe_id):
    if not spiffe_id.startswith("spiffe://"):
        raise ValueError("not a SPIFFE ID: %r" % spiffe_id)
    return spiffe_id[9:].split("/", 1)[0]


def td_key(td):
    return td if td.startswith("spiffe://") else "spiffe://" + td


def td_name(td):
    return td[9:] if td.startswith("spiffe://") else td


def load_pem_certs(path):
    with open(path, "rb") as f:
        data = f.read()
    certs = x509.load_pem_x509_certificates(data) \
        if hasattr(x509, "load_pem_x509_certificates") else None
    if certs is None:
        certs = []
        marker = b"-----END CERTIFICATE-----"
        for chunk in data.split(marker)[:-1]:
            certs.append(x509.load_pem_x509_certificate(chunk + marker))
    if not certs:
        raise ValueError("no certificate in %s" % path)
    return certs


def write_file(path, data, mode=0o644):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


# ---------------------------------------------------------------- JWT

# alg -> (key family, hash); the family is "RSA" or the EC curve's JWK name
JWT_ALGS = {
    "ES256": ("P-256", hashes.SHA256),
    "ES384": ("P-384", hashes.SHA384),
    "ES512": ("P-521", hashes.SHA512),
    "RS256": ("RSA", hashes.SHA256),
    "RS384": ("RSA", hashes.SHA384),
    "RS512": ("RSA", hashes.SHA512),
    "PS256": ("RSA", hashes.SHA256),
    "PS384": ("RSA", hashes.SHA384),
    "PS512": ("RSA", hashes.SHA512),
}
JWT_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1,
              "P-521": ec.SECP521R1}
JWT_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384",
                   "secp521r1": "P-521"}
JWT_RSA_BITS = 2048
JWT_FORGE_KINDS = ("none", "hs256", "badsig", "wrongkid", "nokid",
                   "untrusted", "expired", "future-nbf", "typ", "json",
                   "long", "truncated", "keyalg", "crit")
# "long" pads the claims so that the token is over the 16 KiB cap
JWT_LONG_PAD = 17 * 1024


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(n, size=None):
    return n.to_bytes(size or (n.bit_length() + 7) // 8 or 1, "big")


def compact_json(obj):
    return json.dumps(obj, separators=(",", ":"))


def public_jwk(pub):
    """The JWK members of a public key (kty and its parameters)."""
    if isinstance(pub, ec.EllipticCurvePublicKey):
        crv = JWT_CURVE_NAMES.get(pub.curve.name)
        if crv is None:
            raise ValueError("curve %s has no JWK name" % pub.curve.name)
        size = (pub.curve.key_size + 7) // 8
        nums = pub.public_numbers()
        return {"kty": "EC", "crv": crv, "x": b64u(int_bytes(nums.x, size)),
                "y": b64u(int_bytes(nums.y, size))}
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        return {"kty": "RSA", "n": b64u(int_bytes(nums.n)),
                "e": b64u(int_bytes(nums.e))}
    raise ValueError("no JWK form for %s" % type(pub).__name__)


def jws_sign(key, alg, data):
    """A JWS signature of data: raw R || S for ES*, as RFC 7518 wants."""
    digest = JWT_ALGS[alg][1]()
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        return int_bytes(r, size) + int_bytes(s, size)
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), digest)
    return key.sign(data, padding.PSS(mgf=padding.MGF1(digest),
                                      salt_length=digest.digest_size),
                    digest)


def jws_compact(header, claims, sign):
    """header.claims.signature; sign(signing_input) gives the bytes."""
    signing_input = "%s.%s" % (b64u(compact_json(header).encode()),
                               b64u(compact_json(claims).encode()))
    return "%s.%s" % (signing_input, b64u(sign(signing_input.encode())))


class JWTKey:
    """A JWT authority: a private key and its kid."""

    def __init__(self, family):
        self.family = family
        self.kid = b64u(os.urandom(12))
        if family == "RSA":
            self.key = rsa.generate_private_key(65537, JWT_RSA_BITS)
        else:
            self.key = ec.generate_private_key(JWT_CURVES[family]())

    def jwk(self):
        j = {"use": "jwt-svid", "kid": self.kid}
        j.update(public_jwk(self.key.public_key()))
        return j

    def public_pem(self):
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)


class JWTAuthority:
    """The JWT keys of one trust domain: the current key (of the trust
    domain's algorithm), the previous one after "rotate-jwt-key keep-old",
    keys of other families made on demand by "mint-jwt alg=...", and a
    staged next key, not published until "rotate-jwt-key"."""

    def __init__(self, alg):
        self.alg = alg
        self.current = JWTKey(JWT_ALGS[alg][0])
        self.old = []
        self.extra = {}         # family -> JWTKey
        self.next = None

    def published(self):
        return [self.current] + list(self.extra.values()) + self.old

    def key_for(self, alg):
        """The key that signs alg; returns (key, True if it was made)."""
        family = JWT_ALGS[alg][0]
        if family == self.current.family:
            return self.current, False
        if family in self.extra:
            return self.extra[family], False
        self.extra[family] = JWTKey(family)
        return self.extra[family], True

    def staged(self):
        if self.next is None:
            self.next = JWTKey(self.current.family)
        return self.next

    def rotate(self, keep_old):
        old = self.current
        self.current = self.staged()
        self.next = None
        self.old = [old] if keep_old else []


def jwt_time(value, now, default=None):
    """A NumericDate option: absolute, +N/-N from now, or "none"."""
    if value is None:
        return default
    if value == "none":
        return None
    if value[:1] in "+-" and value[1:].isdigit():
        return now + int(value)
    if value.isdigit():
        return int(value)
    raise ValueError("bad time %r (want UNIX time, +N, -N or none)" % value)


def json_or_string(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---------------------------------------------------------------- state

FAULTS = {
    "permission_denied": (grpc.StatusCode.PERMISSION_DENIED,
                          "no identity issued"),
    "unavailable": (grpc.StatusCode.UNAVAILABLE,
                    "agent unavailable (test fault)"),
    "invalid_argument": (grpc.StatusCode.INVALID_ARGUMENT,
                         "invalid argument (test fault)"),
}

METHODS = ("FetchX509SVID", "FetchX509Bundles", "FetchJWTBundles",
           "FetchJWTSVID", "ValidateJWTSVID")
STREAM_METHODS = {"x509svid": "FetchX509SVID",
                  "x509bundles": "FetchX509Bundles",
                  "jwtbundles": "FetchJWTBundles"}
# stream kinds that skip a message equal to the last one they sent
BUNDLE_KINDS = ("x509bundles", "jwtbundles")

STATE = object()        # queue marker: send the current state


class Stream:
    def __init__(self, kind):
        self.kind = kind        # "x509svid", "x509bundles", "jwtbundles"
        self.method = STREAM_METHODS[kind]
        self.queue = collections.deque()
        self.last = None        # last state sent (bundles: skip repeats)
        self.end = None         # (StatusCode, details) to finish with
        self.cancelled = False
        self.sent = 0           # messages handed to gRPC and written
        self.sending = False    # one taken from the queue, not written yet


class Agent:
    CA_LIFETIME = 10 * 365 * 86400

    def __init__(self, pb, args):
        self.pb = pb
        self.dir = args.state
        self.td = args.trust_domain
        self.ttl = args.ttl
        self.use_intermediate = args.intermediate
        self.cond = threading.Condition(threading.RLock())
        self.streams = set()
        self.calls = 0
        self.fail = None
        self.fail_methods = ()  # the methods "fail" applies to; () = all
        self.stalled = False
        self.unstall = None     # the timer of "stall on MS"
        self.end_always = False  # "end-stream always"
        self.crl_on = False
        self.revoked = set()
        self.crl_key = None
        self.crl_cache = []
        self.federated = {}     # "spiffe://td" -> [certs]
        self.other_cas = {}     # "td" -> CA made by new-td
        self.old_roots = []
        self.quit = threading.Event()
        self.serving = None     # set by main(): serving(on) starts/stops
        self.junk = None        # set by main(): junk(mode or None)

        self.jwt_alg = args.jwt_alg
        self.jwt_ttl = args.jwt_ttl
        self.jwt_refresh_hint = args.jwt_refresh_hint
        self.jwks_form = args.jwks
        self.bare_keys = args.bare_keys
        self.jwt = {self.td: JWTAuthority(self.jwt_alg)}   # "td" -> keys
        self.jwks_seq = {}      # "td" -> [keys as JSON, spiffe_sequence]
        self.jwks_docs = {}     # "td" -> JWKS document served, bytes
        self.jwt_svid_calls = 0
        self.jwt_svid_times = []    # time.monotonic() of each FetchJWTSVID
        self.jwt_svid_id = None     # "jwt-svid-id TEXT"
        self.jwt_svids = 0

        self.root = None
        self.issuer = None
        self._new_ca()
        self.svids = []
        for spiffe_id, hint in args.svids:
            self.svids.append(self._mint_svid(spiffe_id, hint))
        self._save()

    # -- minting

    def _ca_lifetime(self):
        return max(self.CA_LIFETIME, self.ttl + 86400)

    def _new_ca(self):
        self.root = CA.root(self.td, self._ca_lifetime())
        self.issuer = self.root
        if self.use_intermediate:
            self.issuer = self.root.intermediate(self.td, self._ca_lifetime())

    def _mint_svid(self, spiffe_id, hint):
        key, cert = self.issuer.leaf(spiffe_id, self.ttl)
        return SVID(spiffe_id, hint, key, cert, self.issuer.chain)

    def bundle(self):
        return [self.root.cert] + self.old_roots

    def crls(self):
        return self.crl_cache

    def _sign_crls(self):
        """Sign CRLs again only when what they say changes."""
        key = (self.crl_on, frozenset(self.revoked), self.issuer, self.root,
               self.ttl)
        if key == self.crl_key:
            return
        self.crl_key = key
        self.crl_cache = []
        if self.crl_on:
            # valid as long as the SVIDs it covers, a day at least
            life = max(self.ttl, 86400)
            self.crl_cache.append(self.issuer.crl(self.revoked, life))
            if self.issuer is not self.root:
                self.crl_cache.append(self.root.crl((), life))

    # -- JWT bundles

    def jwks_keys(self, td, certs):
        """A trust domain's keys: X.509 authorities first, as x5c, then its
        JWT authorities if the agent has them."""
        keys = []
        for c in certs:
            try:
                j = public_jwk(c.public_key())
            except ValueError:
                continue
            k = {"use": "x509-svid"}
            k.update(j)
            k["x5c"] = [base64.b64encode(der(c)).decode()]
            keys.append(k)
        auth = self.jwt.get(td)
        if auth is not None:
            keys += [key.jwk() for key in auth.published()]
        return keys

    def _update_jwks(self):
        """The JWKS of every trust domain served (own and federated); the
        spiffe_sequence of a trust domain grows when its keys change."""
        served = [(self.td, self.bundle())]
        served += [(td_name(k), certs) for k, certs in self.federated.items()]
        docs = {}
        for td, certs in served:
            keys = self.jwks_keys(td, certs)
            text = compact_json(keys)
            seq = self.jwks_seq.get(td)
            if seq is None:
                seq = self.jwks_seq[td] = [text, 1]
            elif seq[0] != text:
                seq[0] = text
                seq[1] += 1
            docs[td] = json.dumps({
                "keys": keys, "spiffe_sequence": seq[1],
                "spiffe_refresh_hint": self.jwt_refresh_hint}).encode()
        self.jwks_docs = docs

    def jwt_bundle(self, td):
        """What FetchJWTBundles sends for td, in the current form."""
        if self.jwks_form == "spiffe":
            return self.jwks_docs[td]
        auth = self.jwt.get(td)
        keys = []
        for key in auth.published() if auth is not None else []:
            k = key.jwk()
            del k["use"]
            keys.append(k)
        return json.dumps({"keys": keys}, indent=4).encode()

    def map_key(self, td):
        return td_name(td) if self.bare_keys else td_key(td)

    # -- files

    def _save(self):
        self._sign_crls()
        self._update_jwks()
        d = self.dir
        write_file(os.path.join(d, "ca.pem"), pem(self.root.cert))
        write_file(os.path.join(d, "ca.key"), key_pem(self.root.key))
        if self.issuer is not self.root:
            write_file(os.path.join(d, "intermediate.pem"),
                       pem(self.issuer.cert))
            write_file(os.path.join(d, "intermediate.key"),
                       key_pem(self.issuer.key))
        bundle = b"".join(pem(c) for c in self.bundle())
        write_file(os.path.join(d, "bundle.pem"), bundle)
        for i, s in enumerate(self.svids):
            base = "svid" if i == 0 else "svid%d" % i
            write_file(os.path.join(d, base + "_key.pem"), key_pem(s.key))
            write_file(os.path.join(d, base + ".pem"),
                       b"".join(pem(c) for c in [s.cert] + s.chain))
        write_file(os.path.join(d, "svid_bundle.pem"), bundle)
        crl_path = os.path.join(d, "crl.pem")
        crls = self.crls()
        if crls:
            write_file(crl_path, b"".join(
                c.public_bytes(serialization.Encoding.PEM) for c in crls))
        elif os.path.exists(crl_path):
            os.unlink(crl_path)
        fed = os.path.join(d, "federated")
        os.makedirs(fed, exist_ok=True)
        for name in os.listdir(fed):
            if td_key(name[:-4]) not in self.federated:
                os.unlink(os.path.join(fed, name))
        for k, certs in self.federated.items():
            write_file(os.path.join(fed, td_name(k) + ".pem"),
                       b"".join(pem(c) for c in certs))
        jwks = os.path.join(d, "jwks")
        os.makedirs(jwks, exist_ok=True)
        for name in os.listdir(jwks):
            if name[:-5] not in self.jwks_docs:
                os.unlink(os.path.join(jwks, name))
        for td, doc in self.jwks_docs.items():
            write_file(os.path.join(jwks, td + ".json"), doc)

    # -- messages

    def x509svid_response(self, svids=None):
        pb = self.pb
        m = pb.X509SVIDResponse()
        bundle = b"".join(der(c) for c in self.bundle())
        for s in self.svids if svids is None else svids:
            m.svids.add(spiffe_id=s.spiffe_id,
                        x509_svid=b"".join(der(c) for c in [s.cert] + s.chain),
                        x509_svid_key=key_der(s.key),
                        bundle=bundle, hint=s.hint)
        for c in self.crls():
            m.crl.append(c.public_bytes(serialization.Encoding.DER))
        for k, certs in self.federated.items():
            m.federated_bundles[self.map_key(k)] = b"".join(der(c)
                                                            for c in certs)
        return m.SerializeToString()

    def x509bundles_response(self):
        m = self.pb.X509BundlesResponse()
        for c in self.crls():
            m.crl.append(c.public_bytes(serialization.Encoding.DER))
        m.bundles[self.map_key(self.td)] = b"".join(der(c)
                                                     for c in self.bundle())
        for k, certs in self.federated.items():
            m.bundles[self.map_key(k)] = b"".join(der(c) for c in certs)
        return m.SerializeToString()

    def jwtbundles_response(self):
        m = self.pb.JWTBundlesResponse()
        for td in self.jwks_docs:
            m.bundles[self.map_key(td)] = self.jwt_bundle(td)
        return m.SerializeToString()

    def render(self, kind):
        if kind == "x509svid":
            return self.x509svid_response()
        if kind == "jwtbundles":
            return self.jwtbundles_response()
        return self.x509bundles_response()

    def bad_jwt_bundles(self, what):
        m = self.pb.JWTBundlesResponse()
        if what == "garbage":
            # field 1, length-delimited, claims 127 bytes but has 7
            return b"\x0a\x7fgarbage"
        if what == "not-json":
            m.bundles[td_key(self.td)] = b"{not json"
        elif what == "no-keys":
            m.bundles[td_key(self.td)] = b'{"spiffe_sequence": 1}'
        elif what == "bad-td":
            m.bundles["spiffe://Bad_TD"] = self.jwks_docs[self.td]
        elif what != "empty":
            raise ValueError("unknown message %r" % what)
        return m.SerializeToString()

    def bad_message(self, what):
        if what == "garbage":
            # field 1, length-delimited, claims 127 bytes but has 7
            return b"\x0a\x7fgarbage"
        if what == "oversized":
            # a valid message plus an unknown bytes field (15) of 4 MiB
            pad = OVERSIZE
            n, varint = pad, b""
            while True:
                b = n & 0x7f
                n >>= 7
                if n:
                    varint += bytes([b | 0x80])
                else:
                    varint += bytes([b])
                    break
            return self.x509svid_response() + b"\x7a" + varint + b"\0" * pad
        if what == "empty":
            return self.x509svid_response(svids=[])
        d = self.svids[0]
        if what == "expired":
            now = utcnow()
            key, cert = self.issuer.leaf(
                d.spiffe_id, 3600,
                not_before=now - datetime.timedelta(seconds=3660))
            bad = SVID(d.spiffe_id, d.hint, key, cert, d.chain)
        elif what == "mismatched":
            bad = SVID(d.spiffe_id, d.hint, new_key(), d.cert, d.chain)
        elif what == "missing-fields":
            m = self.pb.X509SVIDResponse()
            m.ParseFromString(self.x509svid_response())
            for s in m.svids:
                s.x509_svid = b""
            return m.SerializeToString()
        else:
            raise ValueError("unknown message %r" % what)
        return self.x509svid_response(svids=[bad] + self.svids[1:])

    # -- streams

    def changed(self, kinds=None):
        """State changed: save files, queue a full message on every stream
        (of these kinds only, when given; bundle streams skip a message
        equal to the last one they sent)."""
        self._save()
        for s in self.streams:
            if kinds is not None and s.kind not in kinds:
                continue
            if not s.queue or s.queue[-1] is not STATE:
                s.queue.append(STATE)
        self.cond.notify_all()

    def end_streams(self, status, methods=()):
        for s in self.streams:
            if not methods or s.method in methods:
                s.end = status
        self.cond.notify_all()

    def gate(self, context, method):
        """Common checks for every call; returns an error status or None."""
        with self.cond:
            self.calls += 1
        md = dict(context.invocation_metadata())
        if md.get("workload.spiffe.io") != "true":
            log.info("%s: security header missing", method)
            return (grpc.StatusCode.INVALID_ARGUMENT,
                    "security header missing from request")
        with self.cond:
            if self.fail and (not self.fail_methods
                              or method in self.fail_methods):
                log.info("%s: answering %s", method, self.fail)
                return FAULTS[self.fail]
        return None

    def wait_unstalled(self, context):
        """A unary call under "stall": False if the caller went away."""
        with self.cond:
            while self.stalled and context.is_active():
                self.cond.wait(1.0)
        return context.is_active()

    def serve_stream(self, kind, method, reqcls, request, context):
        err = self.gate(context, method) or self.check_request(reqcls,
                                                                request)
        if err:
            context.set_code(err[0])
            context.set_details(err[1])
            return
        s = Stream(kind)

        def gone():
            with self.cond:
                s.cancelled = True
                self.cond.notify_all()

        context.add_callback(gone)
        with self.cond:
            s.queue.append(STATE)
            self.streams.add(s)
        log.info("%s: stream opened (%d open)", method, len(self.streams))
        try:
            while True:
                with self.cond:
                    while not (s.cancelled or s.end or
                               (s.queue and not self.stalled)):
                        self.cond.wait(1.0)
                        if not context.is_active():
                            s.cancelled = True
                    if s.cancelled:
                        return
                    if s.end:
                        code, details = s.end
                        if code != grpc.StatusCode.OK:
                            context.set_code(code)
                            context.set_details(details)
                        log.info("%s: stream ended with %s", method,
                                 code.name)
                        return
                    item = s.queue.popleft()
                    if item is STATE:
                        payload = self.render(kind)
                        if kind in BUNDLE_KINDS and payload == s.last:
                            continue
                        s.last = payload
                    else:
                        payload = item
                    s.sending = True
                # gRPC asks for the next item once this one is written
                yield payload
                with self.cond:
                    s.sending = False
                    s.sent += 1
                    if self.end_always:
                        s.end = (grpc.StatusCode.OK, "")
                    self.cond.notify_all()
        finally:
            with self.cond:
                self.streams.discard(s)
            log.info("%s: stream closed", method)

    def unimplemented(self, method, context):
        err = self.gate(context, method)
        if err is None:
            self.wait_unstalled(context)
            err = (grpc.StatusCode.UNIMPLEMENTED,
                   "%s is not implemented by the test agent" % method)
        context.set_code(err[0])
        context.set_details(err[1])

    def check_request(self, cls, request):
        try:
            cls().ParseFromString(request)
        except Exception:
            return (grpc.StatusCode.INVALID_ARGUMENT, "malformed request")
        return None

    # -- gRPC handlers (raw bytes in and out)

    def fetch_x509_svid(self, request, context):
        return self.serve_stream("x509svid", "FetchX509SVID",
                                 self.pb.X509SVIDRequest, request, context)

    def fetch_x509_bundles(self, request, context):
        return self.serve_stream("x509bundles", "FetchX509Bundles",
                                 self.pb.X509BundlesRequest, request, context)

    def fetch_jwt_bundles(self, request, context):
        return self.serve_stream("jwtbundles", "FetchJWTBundles",
                                 self.pb.JWTBundlesRequest, request, context)

    def fetch_jwt_svid(self, request, context):
        """Unary: a JWT-SVID per SVID (the default first), or for the
        requested spiffe_id only, with the requested audiences."""
        with self.cond:
            self.jwt_svid_calls += 1
            self.jwt_svid_times.append(time.monotonic())
        err = self.gate(context, "FetchJWTSVID")
        if err is None and not self.wait_unstalled(context):
            return None
        req = self.pb.JWTSVIDRequest()
        if err is None:
            try:
                req.ParseFromString(request)
            except Exception:
                err = (grpc.StatusCode.INVALID_ARGUMENT, "malformed request")
        if err is None and not req.audience:
            err = (grpc.StatusCode.INVALID_ARGUMENT,
                   "audience must be specified")
        if err is None:
            with self.cond:
                svids = [s for s in self.svids
                         if not req.spiffe_id or s.spiffe_id == req.spiffe_id]
                if not svids:
                    err = (grpc.StatusCode.PERMISSION_DENIED,
                           "no identity issued")
                else:
                    m = self.pb.JWTSVIDResponse()
                    for s in svids:
                        token, _ = self.jwt_svid_token(s.spiffe_id,
                                                       list(req.audience))
                        m.svids.add(spiffe_id=self.jwt_svid_id
                                    or s.spiffe_id, svid=token, hint=s.hint)
                    self.jwt_svids += len(svids)
        if err is not None:
            log.info("FetchJWTSVID: %s", err[0].name)
            context.set_code(err[0])
            context.set_details(err[1])
            return None
        log.info("FetchJWTSVID: %d token(s) for %s, ttl %d s", len(svids),
                 ",".join(req.audience), self.jwt_ttl)
        return m.SerializeToString()

    # -- JWT-SVIDs

    def jwt_svid_token(self, spiffe_id, audiences):
        """A JWT-SVID as a SPIRE agent makes it, signed by the current key
        of the own trust domain; returns (token, exp)."""
        auth = self.jwt[self.td]
        now = int(time.time())
        header = {"alg": auth.alg, "kid": auth.current.kid, "typ": "JWT"}
        claims = {"aud": audiences[0] if len(audiences) == 1 else audiences,
                  "exp": now + self.jwt_ttl, "iat": now, "sub": spiffe_id}
        key = auth.current.key
        return jws_compact(header, claims,
                           lambda data: jws_sign(key, auth.alg, data)), \
            claims["exp"]

    def jwt_spec(self, sub, aud, opts):
        """What mint-jwt and forge-jwt sign: (header, claims, key, alg, td,
        added), from their arguments."""
        now = int(time.time())
        o, extra = {}, {}
        for opt in opts:
            k, eq, v = opt.partition("=")
            if not eq:
                raise ValueError("option %r is not NAME=VALUE" % opt)
            if k.startswith("claim.") and len(k) > 6:
                extra[k[6:]] = json_or_string(v)
            elif k in ("ttl", "alg", "td", "kid", "key", "exp", "nbf", "iat",
                       "typ"):
                o[k] = v
            else:
                raise ValueError("unknown option %r" % opt)

        # by default the key of sub's trust domain, if the agent has one
        td = o.get("td")
        if td is None:
            td = self.td
            if sub.startswith("spiffe://"):
                sub_td = trust_domain_of(sub)
                if sub_td in self.jwt:
                    td = sub_td
        elif td == "own":
            td = self.td
        else:
            td = td_name(td)
        auth = self.jwt.get(td)
        if auth is None:
            raise ValueError("no JWT key for trust domain %s (use new-td)"
                             % td)

        alg = o.get("alg", auth.alg)
        if alg not in JWT_ALGS:
            raise ValueError("alg must be one of %s" % "|".join(JWT_ALGS))
        added = False
        if o.get("key") == "next":
            key = auth.staged()
            if JWT_ALGS[alg][0] != key.family:
                raise ValueError("the next key of %s is %s, not for %s"
                                 % (td, key.family, alg))
        elif "key" in o:
            raise ValueError("key must be next")
        else:
            key, added = auth.key_for(alg)

        header = {"alg": alg, "kid": o.get("kid", key.kid),
                  "typ": o.get("typ", "JWT")}
        for name in ("kid", "typ"):
            if header[name] == "none":
                del header[name]

        claims = {}
        if sub != "-":
            claims["sub"] = sub
        if aud != "-":
            auds = aud.split(",")
            claims["aud"] = auds[0] if len(auds) == 1 else auds
        ttl = int(o.get("ttl", self.jwt_ttl))
        for name, default in (("exp", now + ttl), ("iat", now),
                              ("nbf", None)):
            t = jwt_time(o.get(name), now, default)
            if t is not None:
                claims[name] = t
        claims.update(extra)
        return header, claims, key, alg, td, added

    def validate_jwt_svid(self, request, context):
        self.unimplemented("ValidateJWTSVID", context)

    def handler(self):
        us = grpc.unary_stream_rpc_method_handler
        uu = grpc.unary_unary_rpc_method_handler
        return grpc.method_handlers_generic_handler(SERVICE, {
            "FetchX509SVID": us(self.fetch_x509_svid),
            "FetchX509Bundles": us(self.fetch_x509_bundles),
            "FetchJWTBundles": us(self.fetch_jwt_bundles),
            "FetchJWTSVID": uu(self.fetch_jwt_svid),
            "ValidateJWTSVID": uu(self.validate_jwt_svid),
        })

    # -- control commands

    def command(self, line):
        """Run one line of the line protocol; returns (reply, after): after
        is None or what to do once the reply is sent."""
        try:
            argv = shlex.split(line)
        except ValueError as e:
            return "ERR %s" % e, None
        return self.run(argv)

    def run(self, argv):
        if not argv:
            return "ERR empty command", None
        fn = getattr(self, "cmd_" + argv[0].replace("-", "_"), None)
        if fn is None:
            return "ERR unknown command %s" % argv[0], None
        try:
            inspect.signature(fn).bind(*argv[1:])
        except TypeError:
            return "ERR usage: %s" % fn.__doc__, None
        try:
            with self.cond:
                reply = fn(*argv[1:])
        except (ValueError, OSError) as e:
            reply = "ERR %s" % e
        except Exception as e:
            log.exception("control: %s failed", argv[0])
            return "ERR internal error: %s" % e, None
        after = None
        if isinstance(reply, tuple):
            reply, after = reply
        log.info("control: %s -> %s", " ".join(argv), reply)
        return reply, after

    def cmd_rotate_svid(self, spiffe_id=None):
        """rotate-svid [ID]"""
        ids = [s.spiffe_id for s in self.svids]
        if spiffe_id is not None:
            if trust_domain_of(spiffe_id) != self.td:
                raise ValueError("%s is not in trust domain %s"
                                 % (spiffe_id, self.td))
            ids[0] = spiffe_id
        self.svids = [self._mint_svid(i, s.hint)
                      for i, s in zip(ids, self.svids)]
        self.changed()
        return "OK serial=%s id=%s" % (serial_hex(self.svids[0].cert),
                                       self.svids[0].spiffe_id)

    def cmd_rotate_ca(self, *opts):
        """rotate-ca [keep-old]"""
        if any(o != "keep-old" for o in opts):
            raise ValueError("usage: rotate-ca [keep-old]")
        old = self.root.cert
        self._new_ca()
        self.old_roots = [old] if opts else []
        self.svids = [self._mint_svid(s.spiffe_id, s.hint)
                      for s in self.svids]
        self.changed()
        return "OK serial=%s ca=%s" % (serial_hex(self.svids[0].cert),
                                       fingerprint(self.root.cert))

    def cmd_new_td(self, td, *opts):
        """new-td TD [jwt-alg=ALG]"""
        td = td_name(td)
        if td == self.td or not td or "/" in td:
            raise ValueError("bad trust domain %r" % td)
        alg = self.jwt_alg
        for o in opts:
            k, _, v = o.partition("=")
            if k != "jwt-alg" or v not in JWT_ALGS:
                raise ValueError("usage: new-td TD [jwt-alg=%s]"
                                 % "|".join(JWT_ALGS))
            alg = v
        ca = CA.root(td, self._ca_lifetime())
        self.other_cas[td] = ca
        self.jwt[td] = JWTAuthority(alg)
        d = os.path.join(self.dir, td)
        os.makedirs(d, exist_ok=True)
        write_file(os.path.join(d, "ca.pem"), pem(ca.cert))
        write_file(os.path.join(d, "ca.key"), key_pem(ca.key))
        if td_key(td) in self.federated:
            # federated before with a PEM file: its JWT keys change now
            self.changed(("jwtbundles",))
        return "OK ca=%s path=%s kid=%s" % (fingerprint(ca.cert),
                                            os.path.join(d, "ca.pem"),
                                            self.jwt[td].current.kid)

    def cmd_federate(self, td, path=None):
        """federate TD [PEMFILE|jwt-only]"""
        if path is None:
            path = os.path.join(self.dir, td_name(td), "ca.pem")
        certs = [] if path == "jwt-only" else load_pem_certs(path)
        self.federated[td_key(td)] = certs
        self.changed()
        return "OK td=%s certs=%d" % (td_key(td), len(certs))

    def cmd_jwks(self, form):
        """jwks spire|spiffe"""
        if form not in ("spire", "spiffe"):
            raise ValueError("usage: jwks spire|spiffe")
        self.jwks_form = form
        self.changed(("jwtbundles",))
        return "OK jwks=%s" % form

    def cmd_keys(self, form):
        """keys bare|spiffe"""
        if form not in ("bare", "spiffe"):
            raise ValueError("usage: keys bare|spiffe")
        self.bare_keys = form == "bare"
        self.changed()
        return "OK keys=%s" % form

    def cmd_unfederate(self, td):
        """unfederate TD"""
        if self.federated.pop(td_key(td), None) is None:
            raise ValueError("%s is not federated" % td_key(td))
        self.changed()
        return "OK td=%s" % td_key(td)

    def cmd_mint(self, spiffe_id, prefix, *opts):
        """mint ID OUTPREFIX [ca=own|TD] [ttl=S]"""
        ca, ttl = self.issuer, self.ttl
        for o in opts:
            k, _, v = o.partition("=")
            if k == "ca" and v == "own":
                ca = self.issuer
            elif k == "ca":
                ca = self.other_cas.get(td_name(v))
                if ca is None:
                    raise ValueError("no CA for %s (use new-td)" % v)
            elif k == "ttl":
                ttl = int(v)
            else:
                raise ValueError("unknown option %r" % o)
        key, cert = ca.leaf(spiffe_id, ttl)
        prefix = os.path.join(self.dir, prefix)
        write_file(prefix + ".key", key_pem(key))
        write_file(prefix + ".pem",
                   b"".join(pem(c) for c in [cert] + ca.chain))
        return "OK serial=%s cert=%s.pem key=%s.key" % (
            serial_hex(cert), prefix, prefix)

    def cmd_add_svid(self, spec):
        """add-svid ID[,hint=H]"""
        spiffe_id, hint = parse_id_hint(spec)
        self.svids.append(self._mint_svid(spiffe_id, hint))
        self.changed()
        return "OK serial=%s svids=%d" % (serial_hex(self.svids[-1].cert),
                                          len(self.svids))

    def cmd_drop_svid(self, spiffe_id):
        """drop-svid ID"""
        keep = [s for s in self.svids if s.spiffe_id != spiffe_id]
        if len(keep) == len(self.svids):
            raise ValueError("no SVID %s" % spiffe_id)
        if not keep:
            raise ValueError("cannot drop the last SVID (use send empty)")
        old = len(self.svids)
        self.svids = keep
        for i in range(len(keep), old):
            base = os.path.join(self.dir, "svid%d" % i)
            for f in (base + ".pem", base + "_key.pem"):
                if os.path.exists(f):
                    os.unlink(f)
        self.changed()
        return "OK svids=%d" % len(self.svids)

    def cmd_crl(self, onoff):
        """crl on|off"""
        if onoff not in ("on", "off"):
            raise ValueError("usage: crl on|off")
        self.crl_on = onoff == "on"
        self.changed()
        return "OK crl=%s" % onoff

    def cmd_revoke(self, serial):
        """revoke SERIALHEX"""
        self.revoked.add(int(serial.replace(":", ""), 16))
        self.crl_on = True
        self.changed()
        return "OK revoked=%d" % len(self.revoked)

    def cmd_fail(self, mode, *methods):
        """fail permission_denied|unavailable|invalid_argument|off [METHOD...]"""
        if mode == "off" and not methods:
            self.fail = None
            self.fail_methods = ()
            return "OK fail=off"
        if mode not in FAULTS:
            raise ValueError("usage: fail %s|off [METHOD...]"
                             % "|".join(FAULTS))
        bad = [m for m in methods if m not in METHODS]
        if bad:
            raise ValueError("unknown method %s (one of %s)"
                             % (bad[0], " ".join(METHODS)))
        self.fail = mode
        self.fail_methods = tuple(methods)
        n = sum(1 for s in self.streams
                if not methods or s.method in methods)
        self.end_streams(FAULTS[mode], methods)
        return "OK fail=%s ended=%d" % (mode, n)

    def cmd_end_stream(self, mode=None):
        """end-stream [always|off]"""
        if mode not in (None, "always", "off"):
            raise ValueError("usage: end-stream [always|off]")
        if mode is not None:
            self.end_always = mode == "always"
            if mode == "off":
                return "OK end_always=off"
        n = len(self.streams)
        self.end_streams((grpc.StatusCode.OK, ""))
        return "OK ended=%d" % n

    def cmd_stall(self, onoff, ms=None):
        """stall on [MS]|off"""
        if onoff not in ("on", "off") or (ms is not None and (
                onoff == "off" or not ms.isdigit())):
            raise ValueError("usage: stall on [MS]|off")
        if self.unstall:
            self.unstall.cancel()
            self.unstall = None
        self.stalled = onoff == "on"
        self.cond.notify_all()
        if ms is None:
            return "OK stall=%s" % onoff
        t = threading.Timer(int(ms) / 1000.0, lambda: self._unstall(t))
        t.daemon = True
        t.start()
        self.unstall = t
        return "OK stall=on for=%s" % ms

    def _unstall(self, timer):
        with self.cond:
            if self.unstall is not timer:
                return      # a later "stall" replaced this one
            self.stalled = False
            self.unstall = None
            self.cond.notify_all()
        log.info("stall: off after its time")

    def cmd_send(self, what):
        """send garbage|oversized|expired|mismatched|missing-fields|empty"""
        payload = self.bad_message(what)
        n = 0
        for s in self.streams:
            if s.kind == "x509svid" and not s.end:
                s.queue.append(payload)
                n += 1
        self.cond.notify_all()
        return "OK sent=%d" % n

    def cmd_junk(self, mode):
        """junk bytes|grpc|off"""
        if mode not in JUNK_MODES + ("off",):
            raise ValueError("usage: junk %s|off" % "|".join(JUNK_MODES))
        self.junk(None if mode == "off" else mode)
        return "OK junk=%s" % mode

    def cmd_status(self):
        """status"""
        auth = self.jwt[self.td]
        return ("OK serial=%s ca=%s streams=%d calls=%d svids=%d "
                "federated=%d fail=%s stall=%s ttl=%d "
                "jwt_alg=%s jwt_kid=%s jwt_keys=%d jwt_seq=%d jwt_ttl=%d "
                "jwt_streams=%d jwt_svid_calls=%d jwt_svids=%d "
                "fail_methods=%s jwks=%s keys=%s" % (
                    serial_hex(self.svids[0].cert),
                    fingerprint(self.root.cert), len(self.streams),
                    self.calls, len(self.svids), len(self.federated),
                    self.fail or "off", "on" if self.stalled else "off",
                    self.ttl, auth.alg, auth.current.kid,
                    len(auth.published()), self.jwks_seq[self.td][1],
                    self.jwt_ttl,
                    sum(1 for s in self.streams if s.kind == "jwtbundles"),
                    self.jwt_svid_calls, self.jwt_svids,
                    ",".join(self.fail_methods) or "all", self.jwks_form,
                    "bare" if self.bare_keys else "spiffe"))

    # -- JWT commands

    def _jwt_authority(self, opts, usage, flags=()):
        """(trust domain, its JWTAuthority, flags given) from [td=TD] and
        the flag words of a command."""
        td, given = self.td, set()
        for o in opts:
            if o in flags:
                given.add(o)
            elif o.startswith("td="):
                td = td_name(o[3:]) if o[3:] != "own" else self.td
            else:
                raise ValueError("usage: " + usage)
        if td not in self.jwt:
            raise ValueError("no JWT key for trust domain %s (use new-td)"
                             % td)
        return td, self.jwt[td], given

    def cmd_rotate_jwt_key(self, *opts):
        """rotate-jwt-key [keep-old] [td=TD]"""
        td, auth, given = self._jwt_authority(
            opts, "rotate-jwt-key [keep-old] [td=TD]", ("keep-old",))
        old = auth.current.kid
        auth.rotate("keep-old" in given)
        self.changed(("jwtbundles",))
        seq = self.jwks_seq.get(td, [None, 0])[1]
        return "OK td=%s kid=%s old=%s seq=%d" % (td, auth.current.kid,
                                                   old, seq)

    def cmd_next_jwt_key(self, *opts):
        """next-jwt-key [td=TD]"""
        td, auth, _ = self._jwt_authority(opts, "next-jwt-key [td=TD]")
        return "OK td=%s kid=%s" % (td, auth.staged().kid)

    def cmd_jwt_svid_calls(self):
        """jwt-svid-calls"""
        t = self.jwt_svid_times
        gaps = [int(round((b - a) * 1000)) for a, b in zip(t, t[1:])]
        return "OK calls=%d intervals_ms=%s" % (
            len(t), ",".join(str(g) for g in gaps) or "-")

    def cmd_jwt_svid_id(self, text=None):
        """jwt-svid-id [TEXT]"""
        self.jwt_svid_id = text
        return "OK jwt_svid_id=%s" % ("default" if text is None else "set")

    def cmd_jwt_ttl(self, seconds):
        """jwt-ttl SECONDS"""
        ttl = int(seconds)
        if ttl <= 0:
            raise ValueError("jwt-ttl must be positive")
        self.jwt_ttl = ttl
        return "OK jwt_ttl=%d" % ttl

    def _jwt_reply(self, token, header, td, added):
        if added:
            self.changed(("jwtbundles",))
        return "OK token=%s kid=%s td=%s%s" % (
            token, header.get("kid", "-"), td,
            " added=%s" % header.get("kid") if added else "")

    def cmd_mint_jwt(self, sub, aud, *opts):
        """mint-jwt SUB AUD[,AUD2...] [ttl=S] [alg=ALG] [td=TD] [kid=KID] [key=next] [exp=T] [nbf=T] [iat=T] [typ=TYP] [claim.NAME=VALUE]"""
        header, claims, key, alg, td, added = self.jwt_spec(sub, aud, opts)
        token = jws_compact(header, claims,
                            lambda data: jws_sign(key.key, alg, data))
        return self._jwt_reply(token, header, td, added)

    def cmd_forge_jwt(self, kind, sub, aud, *opts):
        """forge-jwt none|hs256|badsig|wrongkid|nokid|untrusted|expired|future-nbf|typ|json|long|truncated|keyalg|crit SUB AUD [mint-jwt options]"""
        if kind not in JWT_FORGE_KINDS:
            raise ValueError("unknown kind %r (one of %s)"
                             % (kind, "|".join(JWT_FORGE_KINDS)))
        header, claims, key, alg, td, added = self.jwt_spec(sub, aud, opts)
        now = int(time.time())
        signer = key.key
        sign = None

        if kind == "none":
            header["alg"] = "none"
            sign = lambda data: b""
        elif kind == "hs256":
            # the public key as an HMAC secret: the algorithm confusion
            header["alg"] = "HS256"
            secret = key.public_pem()
            sign = lambda data: hmac.new(secret, data, "sha256").digest()
        elif kind == "wrongkid":
            header["kid"] = "wrong-" + b64u(os.urandom(6))
        elif kind == "nokid":
            header.pop("kid", None)
        elif kind == "untrusted":
            # the trusted kid, a key that no bundle holds
            signer = JWTKey(key.family).key
        elif kind == "expired":
            claims["exp"] = now - 3600
            claims["iat"] = now - 3900
        elif kind == "future-nbf":
            claims["nbf"] = now + 3600
        elif kind == "typ":
            header["typ"] = "xyz"
        elif kind == "long":
            claims["pad"] = "x" * JWT_LONG_PAD
        elif kind == "keyalg":
            # an alg of another key family than the kid's key
            header["alg"] = "RS256" if key.family != "RSA" else "ES256"
        elif kind == "crit":
            header["crit"] = ["exp"]

        if sign is None:
            sign = lambda data: jws_sign(signer, alg, data)
        token = jws_compact(header, claims, sign)
        head, _, sig = token.rpartition(".")

        if kind == "badsig":
            raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig)
                                                                  % 4)))
            raw[len(raw) // 2] ^= 0x01
            token = "%s.%s" % (head, b64u(bytes(raw)))
        elif kind == "truncated":
            # shortened to a length that no base64url text can have
            while True:
                sig = sig[:-1]
                if len(sig) % 4 == 1:
                    break
            token = "%s.%s" % (head, sig)
        elif kind == "json":
            protected, payload = head.split(".")
            token = compact_json({"payload": payload, "protected": protected,
                                  "signature": sig})
        return self._jwt_reply(token, header, td, added)

    def cmd_send_jwt_bundles(self, what):
        """send-jwt-bundles garbage|not-json|no-keys|bad-td|empty|state"""
        payload = STATE if what == "state" else self.bad_jwt_bundles(what)
        n = 0
        for s in self.streams:
            if s.kind == "jwtbundles" and not s.end:
                s.queue.append(payload)
                # the next real state is sent again, even if unchanged
                s.last = None
                n += 1
        self.cond.notify_all()
        return "OK sent=%d" % n

    def cmd_ttl(self, seconds):
        """ttl SECONDS"""
        ttl = int(seconds)
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        return "OK ttl=%d" % ttl

    def cmd_help(self):
        """help"""
        return "OK " + "; ".join(
            getattr(self, n).__doc__ for n in sorted(dir(self))
            if n.startswith("cmd_"))

    def cmd_wait_streams(self, n, timeout_ms="5000"):
        """wait-streams N [TIMEOUT_MS]"""
        want, left = int(n), int(timeout_ms) / 1000.0
        deadline = time.monotonic() + left
        while True:
            ready = sum(1 for s in self.streams
                        if s.kind == "x509svid" and s.sent and not s.queue
                        and not s.sending and not s.end and not s.cancelled)
            if ready >= want:
                return "OK ready=%d" % ready
            left = deadline - time.monotonic()
            if left <= 0:
                raise ValueError("timeout: %d of %d FetchX509SVID streams "
                                 "ready after %s ms" % (ready, want,
                                                        timeout_ms))
            self.cond.wait(min(left, 0.5))

    def cmd_down(self):
        """down"""
        n = len(self.streams)
        self.serving(False)
        return "OK down cancelled=%d" % n

    def cmd_up(self):
        """up"""
        self.serving(True)
        return "OK up"

    def cmd_restart(self, *opts):
        """restart [down]"""
        if any(o != "down" for o in opts):
            raise ValueError("usage: restart [down]")
        return "OK restarting", lambda: self.reexec(bool(opts))

    def cmd_signal(self, sig, pidfile):
        """signal SIG PIDFILE"""
        sig = sig.upper()
        sig = sig[3:] if sig.startswith("SIG") else sig
        if sig not in SIGNALS:
            raise ValueError("usage: signal %s PIDFILE" % "|".join(SIGNALS))
        with open(pidfile) as f:
            text = f.read().strip()
        if not text.isdigit():
            raise ValueError("no pid in %s" % pidfile)
        os.kill(int(text), getattr(signal, "SIG" + sig))
        return "OK pid=%s signal=%s" % (text, sig)

    def cmd_quit(self):
        """quit"""
        return "OK bye", self.quit.set

    # -- optional rotation at half-life, like a real agent

    def auto_rotate(self):
        while not self.quit.is_set():
            with self.cond:
                s = self.svids[0]
                half = s.minted + (s.cert.not_valid_after - s.minted) / 2
                wait = (half - datetime.datetime.utcnow()).total_seconds()
                if wait <= 0:
                    log.info("auto-rotate: %s", self.cmd_rotate_svid())
                    continue
            self.quit.wait(min(max(wait, 0.2), 60))


# ---------------------------------------------------------------- control

HTTP_REQUEST = re.compile(r"([A-Z]+) (\S+) HTTP/1\.[01]\Z")
HTTP_REASON = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed",
               409: "Conflict"}
MAX_LINE = 8192


class BadRequest(Exception):
    pass


class ControlHandler(socketserver.StreamRequestHandler):
    """The line protocol, or one HTTP request if the first line is an
    HTTP request line (no command starts with an upper-case word)."""

    def handle(self):
        first = True
        while True:
            raw = self.rfile.readline(MAX_LINE)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if first:
                first = False
                m = HTTP_REQUEST.match(line)
                if m:
                    self.http(m.group(1), m.group(2))
                    return
            reply, after = self.server.agent.command(line)
            if after:
                # no connection may be accepted and then dropped by it
                self.server.shutdown()
            self.wfile.write(reply.encode() + b"\n")
            self.wfile.flush()
            if after:
                after()
                return

    def http(self, method, target):
        try:
            argv, wait_ms = self.http_request(method, target)
        except BadRequest as e:
            code = 405 if method not in ("GET", "HEAD") else 400
            self.http_reply(method, code, "ERR %s" % e)
            return
        reply, after = self.server.agent.run(argv)
        if after:
            self.server.shutdown()
        if wait_ms:
            time.sleep(wait_ms / 1000.0)
        self.http_reply(method, 200 if reply.startswith("OK") else 409,
                        reply)
        if after:
            after()

    def http_request(self, method, target):
        """Reads the rest of the request; returns (argv, wait_ms)."""
        length = 0
        for _ in range(100):
            raw = self.rfile.readline(MAX_LINE)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise BadRequest("bad Content-Length")
        else:
            raise BadRequest("too many header lines")
        if length > 65536:
            raise BadRequest("request body too large")
        if length:
            self.rfile.read(length)
        if method not in ("GET", "HEAD"):
            raise BadRequest("method %s not allowed, use GET" % method)

        url = urllib.parse.urlsplit(target)
        if not url.path.startswith("/"):
            raise BadRequest("bad request target %s" % target)
        try:
            argv = [urllib.parse.unquote(w, errors="strict")
                    for w in url.path.split("/") if w]
            query = urllib.parse.parse_qsl(url.query, keep_blank_values=True,
                                           errors="strict")
        except (UnicodeDecodeError, ValueError) as e:
            raise BadRequest("bad percent-encoding: %s" % e)
        wait_ms = 0
        for k, v in query:
            if k == "arg":
                argv.append(v)
            elif k == "wait_ms":
                if not v.isdigit() or int(v) > MAX_WAIT_MS:
                    raise BadRequest("wait_ms must be 0..%d" % MAX_WAIT_MS)
                wait_ms = int(v)
            else:
                raise BadRequest("unknown query parameter %s" % k)
        if not argv:
            raise BadRequest("no command in the path")
        return argv, wait_ms

    def http_reply(self, method, code, reply):
        body = reply.encode() + b"\n"
        head = ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n"
                % (code, HTTP_REASON[code], len(body)))
        self.wfile.write(head.encode() + (b"" if method == "HEAD" else body))
        self.wfile.flush()


class ControlServer(socketserver.ThreadingMixIn,
                    socketserver.UnixStreamServer):
    daemon_threads = True


# ---------------------------------------------------------------- main

def unlink_quiet(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="SPIFFE Workload API test server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("Ready when"):])
    p.add_argument("--state", help="state directory (default: a temporary "
                   "directory removed at exit)")
    p.add_argument("--socket", help="Workload API unix socket "
                   "(default STATE/agent.sock)")
    p.add_argument("--tcp", help="also listen on HOST:PORT (port 0: any)")
    p.add_argument("--control", help="control socket "
                   "(default STATE/control.sock)")
    p.add_argument("--trust-domain", help="own trust domain (default: the "
                   "SVIDs' or example.org)")
    p.add_argument("--spiffe-id", help="default SVID: ID[,hint=H]")
    p.add_argument("--svid", action="append", default=[],
                   help="one more SVID: ID[,hint=H] (repeatable)")
    p.add_argument("--ttl", type=int, default=3600,
                   help="SVID lifetime in seconds (default 3600)")
    p.add_argument("--intermediate", action="store_true",
                   help="issue SVIDs from an intermediate CA")
    p.add_argument("--auto-rotate", action="store_true",
                   help="rotate SVIDs at half their lifetime")
    p.add_argument("--jwt-alg", default="ES256", choices=sorted(JWT_ALGS),
                   help="algorithm of the JWT keys (default ES256)")
    p.add_argument("--jwt-ttl", type=int, default=300,
                   help="lifetime of the JWT-SVIDs of FetchJWTSVID, in "
                   "seconds (default 300)")
    p.add_argument("--jwt-refresh-hint", type=int, default=300,
                   help="spiffe_refresh_hint of the JWT bundles, in seconds "
                   "(default 300)")
    p.add_argument("--jwks", choices=("spire", "spiffe"), default="spire",
                   help="form of the JWT bundles: SPIRE's plain JWK Set "
                   "(default) or the SPIFFE bundle document")
    p.add_argument("--bare-keys", action="store_true",
                   help="bundle map keys \"TD\", not \"spiffe://TD\"")
    p.add_argument("--proto", default=os.path.join(HERE, "workload.proto"),
                   help=argparse.SUPPRESS)
    # set by "restart" for the new image
    p.add_argument("--control-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--tmp-state", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--down", action="store_true",
                   help="start with the Workload API down (see \"up\")")
    p.add_argument("--pidfile", help="written last, once ready")
    p.add_argument("--log", help="log file (default stderr)")
    args = p.parse_args(argv)

    specs = ([args.spiffe_id] if args.spiffe_id else []) + args.svid
    try:
        args.svids = [parse_id_hint(s) for s in specs]
        tds = {trust_domain_of(i) for i, _ in args.svids}
    except ValueError as e:
        p.error(str(e))
    if args.trust_domain is None:
        args.trust_domain = (trust_domain_of(args.svids[0][0])
                             if args.svids else "example.org")
    if tds - {args.trust_domain}:
        p.error("SVIDs must be in trust domain %s" % args.trust_domain)
    if not args.svids:
        args.svids = [("spiffe://%s/nginx" % args.trust_domain, "")]
    if args.ttl <= 0:
        p.error("--ttl must be positive")
    if args.jwt_ttl <= 0:
        p.error("--jwt-ttl must be positive")
    return args


class WorkloadServer:
    """The gRPC server, made again on "up": a gRPC server cannot restart."""

    def __init__(self, agent, sock, tcp):
        self.agent = agent
        self.sock = sock
        self.tcp = tcp
        self.tcp_port = None
        self.server = None
        self.junk_server = None

    def serving(self, on):
        self.junk(None)
        if on and self.server is None:
            self.start()
        elif not on and self.server is not None:
            self.stop(0)

    def start(self):
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=64),
            handlers=[self.agent.handler()],
            options=[("grpc.max_send_message_length", MAX_SEND),
                     ("grpc.max_receive_message_length", 4 * 1024 * 1024)])
        unlink_quiet(self.sock)
        server.add_insecure_port("unix:" + self.sock)
        if self.tcp:
            # the same port again after "down" and "restart"
            host, _, port = self.tcp.rpartition(":")
            addr = "%s:%s" % (host, self.tcp_port or port)
            port = server.add_insecure_port(addr)
            if not port:
                raise OSError("cannot listen on %s" % addr)
            self.tcp_port = port
        server.start()
        os.chmod(self.sock, 0o666)
        self.server = server

    def stop(self, grace):
        server, self.server = self.server, None
        # cancels the calls now; nothing new may connect after the reply
        event = server.stop(grace)
        unlink_quiet(self.sock)
        return event


    def junk(self, mode):
        """New connections to the unix socket get junk of this mode; None
        puts the gRPC server's socket back."""
        keep = self.sock + ".grpc"
        if mode is None:
            if self.junk_server is not None:
                os.rename(keep, self.sock)
                self.junk_server.shutdown()
                self.junk_server.server_close()
                self.junk_server = None
            return
        if self.server is None:
            raise ValueError("the Workload API is down")
        if self.junk_server is None:
            tmp = self.sock + ".junk"
            unlink_quiet(tmp)
            unlink_quiet(keep)
            srv = JunkServer(tmp, JunkHandler)
            os.chmod(tmp, 0o666)
            os.link(self.sock, keep)
            os.rename(tmp, self.sock)
            threading.Thread(target=srv.serve_forever, args=(0.05,),
                             daemon=True).start()
            self.junk_server = srv
        self.junk_server.mode = mode


def h2_frame(ftype, flags, stream, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags])
            + stream.to_bytes(4, "big") + payload)


class JunkHandler(socketserver.BaseRequestHandler):
    """One connection under "junk"; it ends when the client closes."""

    def handle(self):
        sock = self.request
        sock.settimeout(30)
        try:
            if self.server.mode == "bytes":
                sock.recv(4096)
                sock.sendall(JUNK_BYTES)
                while sock.recv(4096):
                    pass
                return
            f = sock.makefile("rb")
            if f.read(len(H2_PREFACE)) != H2_PREFACE:
                return
            sock.sendall(h2_frame(H2_SETTINGS, 0, 0))
            while True:
                head = f.read(9)
                if len(head) < 9:
                    return
                f.read(int.from_bytes(head[:3], "big"))
                ftype, flags = head[3], head[4]
                stream = int.from_bytes(head[5:], "big") & 0x7fffffff
                if ftype == H2_SETTINGS and not flags & 1:
                    sock.sendall(h2_frame(H2_SETTINGS, 1, 0))
                elif ftype == H2_HEADERS:
                    # END_HEADERS; the stream is left open
                    sock.sendall(h2_frame(H2_HEADERS, 4, stream,
                                          JUNK_H2_HEADERS)
                                 + h2_frame(H2_DATA, 0, stream,
                                            JUNK_GRPC_MESSAGE))
        except OSError:
            pass


class JunkServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    mode = None


def restart_argv(argv, args, down, tcp_port):
    """The new image's arguments: argv without what restart sets."""
    out, it = [], iter(argv)
    for a in it:
        name = a.split("=", 1)[0]
        if name in ("--control-fd", "--tcp", "--state"):
            if "=" not in a:
                next(it, None)
        elif a not in ("--down", "--tmp-state"):
            out.append(a)
    out += ["--state", args.state]
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        out += ["--tcp", "%s:%s" % (host, tcp_port or port)]
    if args.tmp_state:
        out.append("--tmp-state")
    if down:
        out.append("--down")
    return out


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    args = parse_args(argv)

    handler = (logging.FileHandler(args.log) if args.log
               else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter(
        "%(asctime)s agent[%(process)d] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    if not args.state:
        args.state = tempfile.mkdtemp(prefix="spiffe-agent-")
        args.tmp_state = True
    os.makedirs(args.state, exist_ok=True)
    args.state = os.path.abspath(args.state)
    sock = os.path.abspath(args.socket or
                           os.path.join(args.state, "agent.sock"))
    ctl = os.path.abspath(args.control or
                          os.path.join(args.state, "control.sock"))
    for path in (sock, ctl):
        if len(path.encode()) > 107:
            raise SystemExit("socket path too long: %s" % path)
    unlink_quiet(sock)
    if args.control_fd is None:
        unlink_quiet(ctl)

    pb = load_stubs(args.proto, os.path.join(args.state, "gen"))
    agent = Agent(pb, args)

    wl = WorkloadServer(agent, sock, args.tcp)
    agent.serving = wl.serving
    agent.junk = wl.junk
    if not args.down:
        try:
            wl.start()
        except OSError as e:
            raise SystemExit(str(e))

    if args.control_fd is None:
        control = ControlServer(ctl, ControlHandler)
        os.chmod(ctl, 0o666)
    else:
        # restarted: the old image's listening socket, with its backlog
        control = ControlServer(ctl, ControlHandler, bind_and_activate=False)
        control.socket.close()
        control.socket = socket.socket(fileno=args.control_fd)
        os.set_inheritable(args.control_fd, False)
    control.agent = agent

    def reexec(down):
        log.info("restart%s: re-executing", " down" if down else "")
        for h in log.handlers:
            h.flush()
        fd = control.socket.fileno()
        os.set_inheritable(fd, True)
        new = restart_argv(argv, args, down, wl.tcp_port)
        new += ["--control-fd", str(fd)]
        # every other descriptor is close-on-exec: the connections drop
        os.execv(sys.executable,
                 [sys.executable, os.path.abspath(__file__)] + new)

    agent.reexec = reexec

    threading.Thread(target=control.serve_forever, args=(0.05,),
                     daemon=True).start()
    if args.auto_rotate:
        threading.Thread(target=agent.auto_rotate, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: agent.quit.set())
    signal.signal(signal.SIGINT, lambda *_: agent.quit.set())

    ready = "READY socket=%s control=%s state=%s" % (sock, ctl, args.state)
    if wl.tcp_port:
        ready += " tcp=%s" % wl.tcp_port
    if args.down:
        ready += " down"
    log.info("%s svid=%s serial=%s", ready, agent.svids[0].spiffe_id,
             serial_hex(agent.svids[0].cert))
    for h in log.handlers:
        h.flush()
    if args.pidfile:
        write_file(args.pidfile, b"%d\n" % os.getpid())
    print(ready, flush=True)

    while not agent.quit.wait(3600):
        pass

    log.info("shutting down")
    control.shutdown()
    control.server_close()
    with agent.cond:
        agent.end_streams((grpc.StatusCode.UNAVAILABLE, "agent stopping"))
    if wl.server is not None:
        wl.stop(0.5).wait(2)
    unlink_quiet(sock)
    unlink_quiet(ctl)
    if args.pidfile:
        unlink_quiet(args.pidfile)
    if args.tmp_state:
        import shutil
        shutil.rmtree(args.state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
