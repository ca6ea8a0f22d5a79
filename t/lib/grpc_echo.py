#!/usr/bin/python3
"""A gRPC-over-TLS echo server for the upstream suites (t/040-upstream.t).

    /usr/bin/python3 t/lib/grpc_echo.py --listen unix:/path/echo.sock \
        --cert SVID.pem --key SVID.key --ca BUNDLE.pem --pidfile FILE

Serves /test.Echo/Say (unary, raw bytes).  It asks for a client
certificate and checks it against --ca, as a SPIFFE workload's TLS stack
would; the reply is "saw <the client's URI SAN> said <the request>", and
the initial metadata carries x-echo-peer with the same URI.  Ready once
the pidfile exists (written after the port is bound).  Stops on SIGTERM.
"""

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from cryptography import x509


def peer_uri(context):
    pems = context.auth_context().get("x509_pem_cert")
    if not pems:
        return "(no certificate)"
    cert = x509.load_pem_x509_certificate(pems[0])
    try:
        san = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "(no SAN)"
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else "(no URI SAN)"


def say(request, context):
    uri = peer_uri(context)
    context.send_initial_metadata((("x-echo-peer", uri),))
    context.set_trailing_metadata((("x-echo-done", "yes"),))
    return b"saw " + uri.encode() + b" said " + request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--pidfile", required=True)
    args = p.parse_args()

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    creds = grpc.ssl_server_credentials(
        [(read(args.key), read(args.cert))],
        root_certificates=read(args.ca), require_client_auth=True)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}),))
    if server.add_secure_port(args.listen, creds) == 0:
        sys.exit("cannot listen on %s" % args.listen)
    server.start()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    tmp = args.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, args.pidfile)

    done.wait()
    server.stop(0)
    if args.listen.startswith("unix:"):
        try:
            os.unlink(args.listen[5:])
        except OSError:
            pass


if __name__ == "__main__":
    main()
