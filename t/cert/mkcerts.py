#!/usr/bin/python3
"""Write the certificates of the peer-verification test matrix.

    /usr/bin/python3 t/cert/mkcerts.py OUTDIR

All keys are EC P-256, written as unencrypted PKCS#8 PEM (NAME.key).  A
peer's NAME.pem holds its leaf first, then the intermediates it needs (never
the root).  File names are fixed; keys, serials and dates change per run.
OUTDIR/INDEX repeats this list.

Authorities
    ca-a.pem/.key           root CA A, trust domain example.org
    int-a.pem/.key          intermediate CA under A
    ca-b.pem/.key           root CA B, trust domain other.org
    ca-unknown.pem/.key     root CA of unknown.org, in no bundle
    ca-web.pem/.key         a plain web CA (no SPIFFE), signs web.pem
    notca-int.pem/.key      CA:false cert from A, used as an issuer anyway
    bundle-example.org.pem  bundle of example.org (CA A)
    bundle-other.org.pem    bundle of other.org (CA B)

Peers that must verify (with the bundle of their own trust domain)
    good          spiffe://example.org/ns/prod/sa/web, from A
    good-dev      spiffe://example.org/ns/dev/sa/web, from A (for deny rules)
    good-int      spiffe://example.org/ns/prod/sa/api, from int-a (chained)
    good-xfcc     spiffe://example.org/ns/prod/sa/xfcc, from int-a, with DNS
                  names and a subject to escape in X-Forwarded-Client-Cert
    good-other    spiffe://other.org/ns/prod/sa/web, from B
    long-2048     an ID of exactly 2048 bytes (the limit), from A
    nginx         spiffe://example.org/nginx + DNS localhost, from A: a
                  server SVID for configs that do not use the agent

Peers that must be refused, and the rule each breaks
    no-uri        no URI SAN (DNS only)
    two-uri       two URI SANs
    ca-leaf       leaf with CA:true
    keycertsign   leaf with keyCertSign in key usage
    crlsign       leaf with cRLSign in key usage
    no-digsig     key usage without digitalSignature (keyAgreement only)
    expired       notAfter in the past
    not-yet-valid notBefore in the future
    wrong-scheme  https://example.org/ns/prod/sa/web
    upper-td      spiffe://Example.ORG/ns/prod/sa/web (uppercase trust domain)
    dot-segment   spiffe://example.org/ns/prod/../web
    percent       spiffe://example.org/ns/pr%6Fd/sa/web
    root-path     spiffe://example.org (no path)
    long-id       an ID of 2049 bytes (over the 2048 limit)
    self-signed   spiffe://example.org/ns/prod/sa/web signed by its own key
    via-notca     spiffe://example.org/ns/prod/sa/web issued by notca-int
                  (chain: leaf, notca-int)
    cross-domain  spiffe://other.org/x signed by CA A (impersonation: must
                  be checked against other.org's bundle only)
    unknown-td    spiffe://unknown.org/x from ca-unknown (no bundle)
    web           DNS localhost, IP 127.0.0.1, from ca-web: an ordinary web
                  server cert, for bundle endpoint (https_web) tests
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
GOOD_ID = "spiffe://example.org/ns/prod/sa/web"


def long_id(total):
    """A valid SPIFFE ID in example.org of exactly total bytes."""
    base = "spiffe://example.org"
    path, left = "", total - len(base)
    while left > 0:
        seg = min(100, left - 1)
        if left - (seg + 1) == 1:
            seg -= 1
        path += "/" + "x" * seg
        left -= seg + 1
    return base + path


class Issuer:
    def __init__(self, name, key, cert, chain):
        self.name = name
        self.key = key
        self.cert = cert
        self.chain = chain      # certs to send after a leaf it signs


def build(cn, key, issuer=None, uris=(), dns=(), ips=(), ca=False,
          usage=None, eku=True, not_before=None, not_after=None,
          pathlen=None):
    """One certificate; issuer None means self-signed."""
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ngx_spiffe test"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    if usage is None:
        usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature"}
    flags = dict.fromkeys((
        "digital_signature", "content_commitment", "key_encipherment",
        "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
        "encipher_only", "decipher_only"), False)
    flags.update(dict.fromkeys(usage, True))
    signer = issuer.key if issuer else key
    signer_pub = issuer.cert.public_key() if issuer else key.public_key()
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer.cert.subject if issuer else subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before or NOW - DAY)
         .not_valid_after(not_after or NOW + (3650 if ca else 1825) * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen),
                        critical=True)
         .add_extension(x509.KeyUsage(**flags), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(
             key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             signer_pub), critical=False))
    if eku and not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([
            ExtendedKeyUsageOID.SERVER_AUTH,
            ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    names = ([x509.UniformResourceIdentifier(u) for u in uris]
             + [x509.DNSName(d) for d in dns]
             + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips])
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names),
                            critical=False)
    return b.sign(signer, hashes.SHA256())


class Writer:
    def __init__(self, outdir):
        self.dir = outdir
        self.index = []

    def _write(self, name, data):
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)

    def pem(self, name, certs, key=None, what=""):
        self._write(name + ".pem", b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in certs))
        if key is not None:
            self._write(name + ".key", key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        self.index.append((name, what))

    def ca(self, name, td, what, issuer=None, pathlen=None):
        key = ec.generate_private_key(ec.SECP256R1())
        uris = ["spiffe://" + td] if td else []
        cert = build("%s CA" % name, key, issuer, uris=uris, ca=True,
                     pathlen=pathlen)
        chain = [cert] + issuer.chain if issuer else []
        self.pem(name, [cert], key, what)
        return Issuer(name, key, cert, chain)

    def peer(self, name, issuer, what, uris=(GOOD_ID,), cn=None, **kw):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = build(cn or name, key, issuer, uris=uris, **kw)
        chain = issuer.chain if issuer else []
        self.pem(name, [cert] + chain, key, what)
        return Issuer(name, key, cert, [cert] + chain)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkcerts.py OUTDIR")
    w = Writer(sys.argv[1])
    os.makedirs(w.dir, exist_ok=True)

    a = w.ca("ca-a", "example.org", "root CA A (example.org)")
    ia = w.ca("int-a", "example.org", "intermediate CA under A", issuer=a,
              pathlen=0)
    b = w.ca("ca-b", "other.org", "root CA B (other.org)")
    unknown = w.ca("ca-unknown", "unknown.org", "CA of unknown.org")
    web = w.ca("ca-web", None, "plain web CA")
    w.pem("bundle-example.org", [a.cert], what="bundle of example.org")
    w.pem("bundle-other.org", [b.cert], what="bundle of other.org")

    w.peer("good", a, "valid: " + GOOD_ID)
    w.peer("good-dev", a, "valid: spiffe://example.org/ns/dev/sa/web",
           uris=["spiffe://example.org/ns/dev/sa/web"])
    w.peer("good-int", ia, "valid via int-a", uris=[
        "spiffe://example.org/ns/prod/sa/api"])
    w.peer("good-xfcc", ia, "valid via int-a: DNS names, a subject with "
           "'\"' and ','", uris=["spiffe://example.org/ns/prod/sa/xfcc"],
           dns=["xfcc.example.org", "a,b.example.org"],
           cn='say "hi", web')
    w.peer("good-other", b, "valid in other.org",
           uris=["spiffe://other.org/ns/prod/sa/web"])
    w.peer("long-2048", a, "valid: ID of exactly 2048 bytes",
           uris=[long_id(2048)])
    w.peer("nginx", a, "valid server SVID spiffe://example.org/nginx",
           uris=["spiffe://example.org/nginx"], dns=["localhost"],
           usage={"digital_signature", "key_agreement"})

    w.peer("no-uri", a, "refuse: no URI SAN", uris=[],
           dns=["web.example.org"])
    w.peer("two-uri", a, "refuse: two URI SANs",
           uris=[GOOD_ID, "spiffe://example.org/ns/prod/sa/api"])
    w.peer("ca-leaf", a, "refuse: leaf with CA:true", ca=True,
           usage={"digital_signature", "key_cert_sign"})
    w.peer("keycertsign", a, "refuse: leaf with keyCertSign",
           usage={"digital_signature", "key_cert_sign"})
    w.peer("crlsign", a, "refuse: leaf with cRLSign",
           usage={"digital_signature", "crl_sign"})
    w.peer("no-digsig", a, "refuse: no digitalSignature",
           usage={"key_agreement"})
    w.peer("expired", a, "refuse: expired",
           not_before=NOW - 30 * DAY, not_after=NOW - DAY)
    w.peer("not-yet-valid", a, "refuse: not yet valid",
           not_before=NOW + DAY, not_after=NOW + 30 * DAY)
    w.peer("wrong-scheme", a, "refuse: https scheme",
           uris=["https://example.org/ns/prod/sa/web"])
    w.peer("upper-td", a, "refuse: uppercase trust domain",
           uris=["spiffe://Example.ORG/ns/prod/sa/web"])
    w.peer("dot-segment", a, "refuse: dot segment",
           uris=["spiffe://example.org/ns/prod/../web"])
    w.peer("percent", a, "refuse: percent-encoding",
           uris=["spiffe://example.org/ns/pr%6Fd/sa/web"])
    w.peer("root-path", a, "refuse: no path",
           uris=["spiffe://example.org"])
    w.peer("long-id", a, "refuse: ID of 2049 bytes", uris=[long_id(2049)])
    w.peer("self-signed", None, "refuse: self-signed SPIFFE leaf")
    notca = w.peer("notca-int", a, "CA:false cert from A (issuer below)",
                   uris=["spiffe://example.org/ns/prod/sa/issuer"],
                   usage={"digital_signature", "key_cert_sign"})
    w.peer("via-notca", notca, "refuse: issued by a CA:false cert")
    w.peer("cross-domain", a, "refuse: other.org ID signed by CA A",
           uris=["spiffe://other.org/x"])
    w.peer("unknown-td", unknown, "refuse: trust domain without bundle",
           uris=["spiffe://unknown.org/x"])
    w.peer("web", web, "plain web server cert (localhost, 127.0.0.1)",
           uris=[], dns=["localhost"], ips=["127.0.0.1"])

    with open(os.path.join(w.dir, "INDEX"), "w") as f:
        f.write("# written by t/cert/mkcerts.py; NAME.pem (+ NAME.key)\n")
        for name, what in w.index:
            f.write("%-20s %s\n" % (name, what))


if __name__ == "__main__":
    main()
