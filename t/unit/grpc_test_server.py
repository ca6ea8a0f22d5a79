#!/usr/bin/python3
#
# A gRPC server for the libcurl call tests of t/unit/test_grpc.c: each
# SpiffeWorkloadAPI method plays one case, on raw bytes (no proto needed).
#
#   grpc_test_server.py SOCKET_PATH
#
# It listens on unix:SOCKET_PATH and on 127.0.0.1, writes the TCP port to
# SOCKET_PATH.port once both listen, and exits 77 when grpcio is missing.

import os
import signal
import sys

try:
    import grpc
    from concurrent import futures
except ImportError:
    sys.exit(77)

MAX = 4 * 1024 * 1024


def checked(ctx):
    md = dict(ctx.invocation_metadata())
    if md.get('workload.spiffe.io') != 'true':
        ctx.abort(grpc.StatusCode.INVALID_ARGUMENT,
                  'security header missing from request')


def stream_ok(req, ctx):
    checked(ctx)
    if req != b'':
        ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, 'request not empty')
    yield b''
    yield b'abcde'
    yield bytes(range(256)) * 400
    yield b'M' * MAX


def denied(req, ctx):
    checked(ctx)
    ctx.abort(grpc.StatusCode.PERMISSION_DENIED, 'no identity issued')


def then_unavailable(req, ctx):
    checked(ctx)
    yield b'one'
    ctx.abort(grpc.StatusCode.UNAVAILABLE, 'bye \u00e9 100%\nnext line')


def echo(req, ctx):
    checked(ctx)
    return req


def too_big(req, ctx):
    checked(ctx)
    return b'B' * (MAX + 1)


def main():
    path = sys.argv[1]
    handlers = grpc.method_handlers_generic_handler('SpiffeWorkloadAPI', {
        'FetchX509SVID': grpc.unary_stream_rpc_method_handler(stream_ok),
        'FetchX509Bundles': grpc.unary_stream_rpc_method_handler(denied),
        'FetchJWTBundles':
            grpc.unary_stream_rpc_method_handler(then_unavailable),
        'FetchJWTSVID': grpc.unary_unary_rpc_method_handler(echo),
        'ValidateJWTSVID': grpc.unary_unary_rpc_method_handler(too_big),
    })

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[('grpc.max_send_message_length', -1)])
    server.add_generic_rpc_handlers((handlers,))
    server.add_insecure_port('unix:' + path)
    port = server.add_insecure_port('127.0.0.1:0')
    server.start()

    with open(path + '.port.tmp', 'w') as f:
        f.write('%d\n' % port)
    os.rename(path + '.port.tmp', path + '.port')

    signal.signal(signal.SIGTERM, lambda *a: server.stop(0))
    server.wait_for_termination()


main()
