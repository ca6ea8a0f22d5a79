#!/usr/bin/python3
#
# An HTTPS server for the bundle endpoint tests of t/unit/test_fetch.c.
#
#   fetch_test_server.py DIR
#
# It listens twice on 127.0.0.1: with DIR/web.pem and DIR/web.key (a web
# server certificate) and with DIR/svid.pem and DIR/svid.key (an X.509-SVID
# and its chain), and writes "WEB_PORT SVID_PORT" to DIR/ports once both
# listen.  It stops on SIGTERM, or after 10 minutes.  Paths:
#
#   /bytes/N    200, N bytes: "0123456789" repeated
#   /status/N   status N, a short body
#   /redirect   302 to /bytes/10

import os
import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        parts = self.path.split('/')
        status, body, headers = 404, b'not found\n', []

        if len(parts) == 3 and parts[1] == 'bytes' and parts[2].isdigit():
            n = int(parts[2])
            status, body = 200, (b'0123456789' * (n // 10 + 1))[:n]
        elif len(parts) == 3 and parts[1] == 'status' and parts[2].isdigit():
            status, body = int(parts[2]), b'status\n'
        elif self.path == '/redirect':
            status, body = 302, b'moved\n'
            headers.append(('Location', '/bytes/10'))

        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cert, key):
        super().__init__(('127.0.0.1', 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # the handshake in the request's thread: a client that refuses
        # the certificate fails there, quietly
        self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        pass


def main():
    d = sys.argv[1]
    servers = [Server(os.path.join(d, name + '.pem'),
                      os.path.join(d, name + '.key'))
               for name in ('web', 'svid')]

    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()

    with open(os.path.join(d, 'ports.tmp'), 'w') as f:
        f.write('%d %d\n' % tuple(s.server_address[1] for s in servers))
    os.rename(os.path.join(d, 'ports.tmp'), os.path.join(d, 'ports'))

    signal.sigtimedwait([signal.SIGTERM], 600)


signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
main()
