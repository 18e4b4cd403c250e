"""W7's reference: the bench service (add, echo) as a stock Python rpyc ThreadedServer.

Binds 127.0.0.1 on a free port, prints "port <n>", serves until killed.
Usage: /usr/bin/python3 bench/python/rpyc_server.py
"""
import logging

import rpyc
from rpyc.utils.server import ThreadedServer


class BenchService(rpyc.Service):
    def exposed_add(self, a, b):
        return a + b

    def exposed_echo(self, data):
        return data


def main():
    quiet = logging.getLogger("bench.rpyc_server")
    quiet.setLevel(logging.ERROR)
    server = ThreadedServer(BenchService, hostname="127.0.0.1", port=0, logger=quiet)
    print("port", server.port, flush=True)
    server.start()


if __name__ == "__main__":
    main()
