#!/usr/bin/python3
"""Drives a netref C++ TLS server with stock rpyc 5.3's ssl_connect. Prints one line per check
and "ALL OK" at the end; every check raises on failure.

Usage: py_tls_client.py PORT CA_FILE [CERT_FILE KEY_FILE]
Without a certificate the server must turn us away: prints "refused ssl.SSLError TYPE: MESSAGE"
and exits with 3; exits with 1 if a call got through."""
import ssl
import sys

import rpyc

port = int(sys.argv[1])
ca_file = sys.argv[2]
cert_file, key_file = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)


def check(name, got, expected):
    if got != expected:
        raise AssertionError(f"{name}: got {got!r}, expected {expected!r}")
    print("ok", name, flush=True)


if cert_file is None:
    # TLS 1.3 finishes the client's side of the handshake before the server has looked at
    # the (missing) certificate: the refusal shows on the first request.
    try:
        c = rpyc.ssl_connect("127.0.0.1", port, ca_certs=ca_file, config={"sync_request_timeout": 10})
        c.root.add(1, 2)
    except Exception as e:  # rpyc wraps socket errors in EOFError(SSLError(...))
        cause = e.args[0] if isinstance(e, EOFError) and e.args and isinstance(e.args[0], BaseException) else e
        # The server's alert, read back: "tlsv13 alert certificate required".
        kind = "ssl.SSLError" if isinstance(cause, ssl.SSLError) else "not an SSL error"
        print(f"refused {kind} {type(cause).__name__}: {cause}", flush=True)
        sys.exit(3)
    print("NOT REFUSED: a call went through without a client certificate", flush=True)
    sys.exit(1)

c = rpyc.ssl_connect("127.0.0.1", port, keyfile=key_file, certfile=cert_file, ca_certs=ca_file,
                     config={"sync_request_timeout": 10})
print("tls", c._channel.stream.sock.version(), flush=True)
print("whoami", c.root.whoami(), flush=True)
check("call", c.root.add(2, 3), 5)
check("keyword arguments", c.root.scale(3, factor=4), 12)
check("str", c.root.echo_text("héllo"), "héllo")

ctr = c.root.make_counter(10)
check("netref method", ctr.add(5), 15)
check("netref attribute", ctr.value, 15)
check("netref passed back", c.root.read_counter(ctr), 15)

try:
    c.root.divide(1, 0)
    raise AssertionError("no exception")
except ValueError as e:
    assert "division by zero" in str(e), str(e)
    print("ok C++ exception arrives as ValueError", flush=True)

check("callback over TLS", c.root.apply(lambda x: x * 2, 21), 42)
check("connection still fine", c.root.add(1, 1), 2)
c.close()
print("ALL OK", flush=True)
