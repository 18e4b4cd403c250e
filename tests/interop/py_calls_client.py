#!/usr/bin/python3
"""A stock rpyc client (5.3, or 6.x on PYTHONPATH) against netref's call_options server: big
ints both ways, and a handler that calls back one-way or async and returns before the
callback ends. Prints "ALL OK" when every check passed.
Usage: py_calls_client.py PORT"""
import sys

import rpyc

conn = rpyc.connect("127.0.0.1", int(sys.argv[1]), config={"sync_request_timeout": 10})
root = conn.root

fact25 = 15511210043330985984000000
assert root.fact25() == fact25, root.fact25()
assert type(root.small_big()) is int and root.small_big() == 120
assert root.negate(-(2 ** 200)) == 2 ** 200
assert root.negate(2 ** 64) == -(2 ** 64)
assert root.negate(7) == -7
assert root.equals_text(-(2 ** 200), str(-(2 ** 200)))

for name in ("notify_oneway", "notify_async"):
    seen = []
    # Runs while this client waits for the handler's reply; a handler that waited on the
    # callback would still be running, and handler_returned() would answer False.
    getattr(root, name)(lambda x: seen.append(root.handler_returned()))
    assert seen == [True], (name, seen)

print("ALL OK", flush=True)
