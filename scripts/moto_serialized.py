"""moto server with requests serialised: the local DynamoDB emulator of this project.

moto's TransactWriteItems is not isolated from concurrent requests: a cancelled transaction rolls
back by restoring a deep copy of the whole table taken when it began, which undoes writes that other
requests committed meanwhile (seen here: 50 concurrent issuances against a cap of 10 left 12 credential
items). DynamoDB executes transactions serialisably. Holding one lock around each request restores
that property while keeping HTTP/1.1 keep-alive on moto's threaded server; moto is bound by the GIL
anyway, so little throughput is lost.

It also replaces moto's rollback of a cancelled transaction. moto deep-copies every table a
transaction touches before running it (~160 ms per transaction on a 2,000-item table here, so the
cost grew with each test's table); with requests serialised an undo log of the items the
transaction names is enough: 5 ms on the same table, whatever its size.

Usage: python moto_serialized.py -H 127.0.0.1 -p PORT
"""

import argparse
import copy
import signal
import sys
import threading

from werkzeug.serving import run_simple

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


class _TablesAreNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a Table "copies" as itself,
    so its transaction snapshot costs nothing; the undo log below does the rollback instead."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


_moto_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _named_items(backend, transact_items):
    """(table, hash key, range key) of every item a transaction names."""
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            attrs = op["Item"] if op_type == "Put" else op.get("Key", {})
            if table.hash_key_attr not in attrs:
                continue
            range_value = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in attrs:
                    continue
                range_value = DynamoType(attrs[table.range_key_attr])
            yield table, DynamoType(attrs[table.hash_key_attr]), range_value


def _transact_write_items(self, transact_items):
    """moto's TransactWriteItems, rolled back from an undo log of the named items on any failure."""
    undo = [(t, h, r, copy.deepcopy(t.get_item(h, r))) for t, h, r in _named_items(self, transact_items)]
    try:
        return _moto_transact_write_items(self, transact_items)
    except BaseException:
        for table, h, r, old in reversed(undo):
            if r is None:
                table.items.pop(h, None)
                if old is not None:
                    table.items[h] = old
            else:
                bucket = table.items[h]
                bucket.pop(r, None)
                if old is not None:
                    bucket[r] = old
                elif not bucket:
                    table.items.pop(h, None)
        raise


dynamodb_models.copy = _TablesAreNotCopied
dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items


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
