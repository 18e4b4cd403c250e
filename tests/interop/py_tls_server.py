#!/usr/bin/python3
"""A stock rpyc 5.3 ThreadedServer behind rpyc's SSLAuthenticator, requiring a client
certificate from CA_FILE. Prints "ready PORT" once listening.

Usage: py_tls_server.py CERT_FILE KEY_FILE CA_FILE"""
import ssl
import sys

import rpyc
from rpyc.utils.authenticators import SSLAuthenticator
from rpyc.utils.server import ThreadedServer

cert_file, key_file, ca_file = sys.argv[1:4]


class Box:
    def __init__(self, value):
        self.exposed_value = value

    def exposed_get(self):
        return self.exposed_value


class TlsTestService(rpyc.Service):
    def on_connect(self, conn):
        self._conn = conn

    def exposed_add(self, a, b):
        return a + b

    def exposed_whoami(self):
        # SSLAuthenticator's credentials: the verified client certificate (getpeercert()).
        subject = self._conn._config["credentials"]["subject"]
        return ",".join(f"{key}={value}" for rdn in subject for key, value in rdn)

    def exposed_make_box(self, value):
        return Box(value)

    def exposed_fail(self, message):
        raise ValueError(message)


authenticator = SSLAuthenticator(key_file, cert_file, ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
server = ThreadedServer(TlsTestService, hostname="127.0.0.1", port=0, authenticator=authenticator,
                        protocol_config={"sync_request_timeout": 10})
server._listen()  # listen before saying ready, so a client connecting at once is not refused
print("ready", server.port, flush=True)
server.start()
