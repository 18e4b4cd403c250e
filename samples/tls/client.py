"""The same mutual-TLS call from Python's stock rpyc. Usage: client.py <certs-dir> [port]"""
import sys

import rpyc

certs = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 18862
conn = rpyc.ssl_connect("localhost", port, keyfile=f"{certs}/alice.key", certfile=f"{certs}/alice.crt",
                        ca_certs=f"{certs}/ca.crt")
print("the server sees us as:", conn.root.whoami())
print("add(2, 40) =", conn.root.add(2, 40))
conn.close()
