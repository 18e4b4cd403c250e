#!/usr/bin/python3
"""A plain Python rpyc service that the C++ client in client.cpp uses.

Usage: /usr/bin/python3 server.py [port]   (default 18871); prints "ready <port>" once listening.
"""
import sys

import rpyc
from rpyc.utils.server import ThreadedServer


class Inventory:
    def __init__(self):
        self.items = {}

    def exposed_add(self, name, count=1):
        self.items[name] = self.items.get(name, 0) + count
        return self.items[name]

    def exposed_count(self, name):
        return self.items[name]  # KeyError for unknown names


class ShopService(rpyc.Service):
    def exposed_greet(self, name, punctuation="!"):
        return f"hello, {name}{punctuation}"

    def exposed_scale(self, values, factor):
        return tuple(v * factor for v in values)

    def exposed_inventory(self):
        return Inventory()

    def exposed_fail(self, message):
        raise ValueError(message)

    def exposed_map(self, fn, values):
        # calls the client's C++ callback for every value
        return tuple(fn(v) for v in values)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18871
    server = ThreadedServer(ShopService, hostname="127.0.0.1", port=port,
                            protocol_config={"allow_public_attrs": False})
    server._listen()  # listen before saying ready, so a client connecting at once is not refused
    print("ready", server.port, flush=True)
    server.start()
