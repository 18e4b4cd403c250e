#!/usr/bin/python3
"""Drives a netref C++ server with stock rpyc 5.3. Every check raises on failure; prints one
line per check and "ALL OK" at the end. Usage: py_client.py PORT"""
import sys
import threading

import rpyc

port = int(sys.argv[1])
c = rpyc.connect("127.0.0.1", port, config={"sync_request_timeout": 10})


def check(name, got, expected):
    if got != expected:
        raise AssertionError(f"{name}: got {got!r}, expected {expected!r}")
    print("ok", name, flush=True)


check("call", c.root.add(2, 3), 5)
check("exposed_ prefix", c.root.exposed_add(4, 5), 9)
check("keyword arguments", c.root.scale(3, factor=4), 12)
check("keyword default", c.root.scale(3), 6)
check("str and bytes", c.root.echo_text("héllo"), "héllo")
check("tuple by value", c.root.pair(1, "a"), (1, "a"))
check("struct by value", c.root.make_point(1.5, 2.5), (1.5, 2.5))
check("list argument via BUFFITER", c.root.sum_all([1, 2, 3, 4]), 10)

ctr = c.root.make_counter(10)
ctr.add(5)
check("netref method and attribute", ctr.value, 15)
ctr.value = 20
check("netref setattr", ctr.value, 20)
try:
    ctr.secret
    raise AssertionError("unexposed attribute was reachable")
except AttributeError:
    print("ok unexposed attribute refused", flush=True)
check("netref passed back", c.root.read_counter(ctr), 20)

try:
    c.root.divide(1, 0)
    raise AssertionError("no exception")
except ValueError as e:
    check("C++ exception type", type(e).__name__, "ValueError")
    assert "division by zero" in str(e), str(e)
    assert "std::invalid_argument" in str(e), str(e)
    print("ok C++ exception message and traceback", flush=True)

try:
    c.root.add("x", 1)
    raise AssertionError("no exception")
except TypeError as e:
    assert "add(int, int)" in str(e), str(e)
    print("ok wrong argument types give the signature", flush=True)

check("callback", c.root.apply(lambda x: x * 2, 21), 42)
check("nested callback", c.root.apply(lambda x: c.root.apply(lambda y: y + 1, x), 1), 2)


def boom(x):
    raise KeyError("from python")


try:
    c.root.apply(boom, 1)
    raise AssertionError("no exception")
except KeyError:
    print("ok Python exception raised in a callback travels back through C++", flush=True)

aadd = rpyc.async_(c.root.add)
res = aadd(20, 22)
res.wait()
check("async", res.value, 42)

done = threading.Event()
res2 = aadd(1, 2)
res2.add_callback(lambda r: done.set())
res2.wait()
check("async callback", done.is_set(), True)

counters = [c.root.make_counter(i) for i in range(50)]
del counters
check("connection still fine after many netrefs", c.root.add(1, 1), 2)
c.close()
print("ALL OK", flush=True)
