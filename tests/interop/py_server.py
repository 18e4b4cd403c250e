#!/usr/bin/python3
"""A stock rpyc 5.3 server for netref's C++ client tests. Prints "ready PORT" once listening.
Usage: py_server.py"""
import math
import threading

import rpyc
from rpyc.utils.server import ThreadedServer

from jobboard import JobStateError
released = threading.Event()
recorded = []


class Box:
    def __init__(self, value):
        self.exposed_value = value

    def exposed_get(self):
        return self.exposed_value

    def exposed_put(self, value):
        self.exposed_value = value


class TestService(rpyc.Service):
    def exposed_add(self, a, b):
        return a + b

    def exposed_greet(self, name, punctuation="!"):
        return f"hello, {name}{punctuation}"

    def exposed_make_box(self, value):
        return Box(value)

    def exposed_fail(self, message):
        raise ValueError(message)

    def exposed_finish(self, job):
        raise JobStateError(f"job {job} is already finished", job=job)

    def exposed_apply(self, fn, x):
        return fn(x)

    def exposed_items(self):
        return [1, 2, 3]

    def exposed_echo(self, v):
        return v

    # For the proxy operators (p[key], len, in, str, bool, ==, <, hash, range-for).
    exposed_scores = {"alice": 3}

    def exposed_numbers(self, n):
        return list(range(n))

    def exposed_version(self, n):
        return Version(n)

    # For per-call options and big ints (call_options_interop_test.cpp).
    def exposed_factorial(self, n):
        return math.factorial(n)

    def exposed_equals_int(self, value, text):
        return type(value) is int and value == int(text)

    def exposed_block(self):
        released.wait()
        return 1

    def exposed_release(self):
        released.set()

    def exposed_record(self, x):
        recorded.append(x)

    def exposed_recorded(self):
        return tuple(recorded)


class Version:
    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return isinstance(other, Version) and self.n == other.n

    def __lt__(self, other):
        return self.n < other.n

    def __hash__(self):
        return self.n * 7

    def __str__(self):
        return f"v{self.n}"


server = ThreadedServer(TestService, hostname="127.0.0.1", port=0,
                        protocol_config={"sync_request_timeout": 10})
server._listen()  # listen before saying ready, so a client connecting at once is not refused
print("ready", server.port, flush=True)
server.start()
