"""moto server with requests serialised: the local DynamoDB emulator of this project.

moto's TransactWriteItems is not isolated from concurrent requests: a cancelled transaction rolls
back by restoring a deep copy of the whole table taken when it began, which undoes writes that other
requests committed meanwhile (seen here: 50 concurrent issuances against a cap of 10 left 12 credential
items). DynamoDB executes transactions serialisably. Holding one lock around each request restores
that property while keeping HTTP/1.1 keep-alive on moto's threaded server; moto is bound by the GIL
anyway, so little throughput is lost.

Usage: python moto_serialized.py -H 127.0.0.1 -p PORT
"""

import argparse
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


class Serialised:
    """WSGI middleware: one request at a time, body included."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
