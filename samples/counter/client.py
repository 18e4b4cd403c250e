#!/usr/bin/python3
"""A Python client of the C++ counter service, with stock rpyc (Debian's python3-rpyc 5.3).

Usage: /usr/bin/python3 client.py [port]   (default 18861)
"""
import sys

import rpyc

port = int(sys.argv[1]) if len(sys.argv) > 1 else 18861
c = rpyc.connect("127.0.0.1", port)

print("add(2, 3) =", c.root.add(2, 3))
ctr = c.root.make_counter(10)
ctr.add(5)
print("counter.value =", ctr.value)
print("apply(lambda x: x * 2, 21) =", c.root.apply(lambda x: x * 2, 21))
try:
    c.root.add("two", 3)
except TypeError as e:
    print("wrong argument types:", str(e).splitlines()[0])
c.close()
