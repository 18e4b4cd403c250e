#!/usr/bin/python3
"""Stock rpyc on the other side of netref's discovery tests (rpyc 5.3 from Debian, or 6.0.1
through PYTHONPATH). Loopback only. Usage:

  py_discovery.py registry UDP|TCP        rpyc's own registry server (the classes
                                          /usr/bin/rpyc_registry runs), bound to 127.0.0.1 on a
                                          free port; prints "ready PORT"
  py_discovery.py server UDP|TCP REGPORT NAME
                                          a ThreadedServer(auto_register=True) exposing add();
                                          prints "ready PORT", serves until killed
  py_discovery.py client UDP|TCP REGPORT NAME
                                          rpyc.connect_by_service(NAME) (retried for up to 5 s
                                          while the name is not registered yet), calls
                                          add(2, 3), prints "result 5"
  py_discovery.py instance                a ThreadedServer (no registry) exposing whoami()
                                          ("python") and hang(), which prints "hanging" and
                                          never returns; prints "ready PORT"
"""
import sys
import time

import rpyc
from rpyc.utils.factory import DiscoveryError
from rpyc.utils.registry import (TCPRegistryClient, TCPRegistryServer, UDPRegistryClient,
                                 UDPRegistryServer)


def registrar(mode, port):
    if mode == "UDP":
        return UDPRegistryClient(ip="127.0.0.1", port=port, timeout=1)
    return TCPRegistryClient(ip="127.0.0.1", port=port, timeout=1)


def instance():
    from rpyc.utils.server import ThreadedServer

    class Instance(rpyc.Service):
        def exposed_whoami(self):
            return "python"

        def exposed_hang(self):
            print("hanging", flush=True)
            time.sleep(3600)

    server = ThreadedServer(Instance, hostname="127.0.0.1", port=0)
    server._listen()  # listening before "ready" (start() would listen only after the print)
    print(f"ready {server.port}", flush=True)
    server.start()
    return 0


def main():
    if sys.argv[1] == "instance":
        return instance()
    command, mode = sys.argv[1], sys.argv[2]
    if command == "registry":
        cls = UDPRegistryServer if mode == "UDP" else TCPRegistryServer
        server = cls(host="127.0.0.1", port=0)
        print(f"ready {server.port}", flush=True)
        server.start()
        return 0
    port, name = int(sys.argv[3]), sys.argv[4]
    if command == "server":
        from rpyc.utils.server import ThreadedServer

        class Adder(rpyc.Service):
            ALIASES = [name]

            def exposed_add(self, a, b):
                return a + b

        server = ThreadedServer(Adder, hostname="127.0.0.1", port=0, auto_register=True,
                                registrar=registrar(mode, port))
        print(f"ready {server.port}", flush=True)
        server.start()
        return 0
    if command == "client":
        deadline = time.monotonic() + 5
        while True:
            try:
                conn = rpyc.connect_by_service(name, registrar=registrar(mode, port))
                break
            except DiscoveryError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        print(f"result {conn.root.add(2, 3)}", flush=True)
        conn.close()
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
