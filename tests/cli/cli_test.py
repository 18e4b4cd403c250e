#!/usr/bin/python3
"""Drives the `netref` command as a user would: runs it as a subprocess against servers this
script starts on free loopback ports, and checks stdout, stderr and the exit status.

Usage: cli_test.py CASE --netref PATH [--counter-server PATH] [--tls-server PATH]
CASE: usage, counter, python-service, classic, tls. Exit 0 when every check passes, 77 (skipped)
when what the case needs is missing, 1 otherwise.
"""
import argparse
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_REMOTE, EXIT_USAGE, EXIT_CONNECTION, EXIT_TIMEOUT = 1, 2, 3, 4


class Server:
    """A server process started here; stopped (by its PID) when the case ends."""

    def __init__(self, argv, ready, stream="stdout", deadline=10.0):
        self.proc = subprocess.Popen(argv, text=True, stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
                                     stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL)
        pipe = getattr(self.proc, stream)
        selector = selectors.DefaultSelector()
        selector.register(pipe, selectors.EVENT_READ)
        end = time.monotonic() + deadline
        seen = []
        while True:
            left = end - time.monotonic()
            if left <= 0 or not selector.select(left):
                self.stop()
                raise AssertionError(f"{argv[0]} did not say it was listening within {deadline} s: {seen}")
            line = pipe.readline()
            if not line:
                self.stop()
                raise AssertionError(f"{argv[0]} exited before listening: {seen}")
            seen.append(line.strip())
            match = re.search(ready, line)
            if match:
                self.port = int(match.group(1))
                # Keep reading what it prints (an rpyc 5.x server logs a traceback for each
                # detection probe), so that a full pipe never blocks it.
                threading.Thread(target=self._drain, args=(pipe,), daemon=True).start()
                return

    @staticmethod
    def _drain(pipe):
        for _ in pipe:
            pass

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Cli:
    def __init__(self, path):
        self.path = path
        self.checks = 0

    def run(self, *args, rc=0, timeout=10):
        started = time.monotonic()
        done = subprocess.run([self.path, *args], capture_output=True, text=True, timeout=timeout)
        took = time.monotonic() - started
        self.checks += 1
        shown = " ".join(repr(a) if " " in a or not a else a for a in args)
        if done.returncode != rc:
            raise AssertionError(f"netref {shown}: exit {done.returncode}, expected {rc}\n"
                                 f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done.stdout, done.stderr, took

    def out(self, *args, rc=0):
        return self.run(*args, rc=rc)[0]

    def err(self, *args, rc):
        return self.run(*args, rc=rc)[1]


def expect_equal(what, got, wanted):
    if got != wanted:
        raise AssertionError(f"{what}: got {got!r}, expected {wanted!r}")


def expect_in(what, needle, haystack):
    if needle not in haystack:
        raise AssertionError(f"{what}: {needle!r} not in {haystack!r}")


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- cases ----------------------------------------------------------------------------------

def case_usage(cli, _args):
    """What needs no server: help, usage errors, connection failures, services."""
    expect_in("netref --help", "Usage: netref [OPTIONS] COMMAND", cli.out("--help"))
    for command in ("ls", "describe", "call", "ping", "services"):
        expect_in(f"{command} --help", f"Usage: netref {command}", cli.out(command, "--help"))
        expect_in(f"help {command}", f"Usage: netref {command}", cli.out("help", command))
    expect_in("unknown command", "unknown command 'frob'", cli.err("frob", rc=EXIT_USAGE))
    expect_in("no address", "call needs HOST:PORT", cli.err("call", rc=EXIT_USAGE))
    expect_in("services, two names", "services takes at most one NAME", cli.err("services", "A", "B", rc=EXIT_USAGE))
    expect_in("--registry elsewhere", "apply to services only",
              cli.err("ping", "--registry", "127.0.0.1", "127.0.0.1:1", rc=EXIT_USAGE))
    # A syntax error is found before connecting, with its column and a caret under it.
    err = cli.err("call", f"127.0.0.1:{free_port()}", "add(2, 3", rc=EXIT_USAGE)
    expect_in("syntax error", "syntax error at column 9: expected ')' to close the call opened at column 4", err)
    expect_in("caret", "  add(2, 3\n          ^\n", err)
    port = free_port()
    err = cli.err("call", f"127.0.0.1:{port}", "add(2, 3)", rc=EXIT_CONNECTION)
    expect_in("refused", f"cannot connect to 127.0.0.1:{port}", err)
    expect_in("missing CA file", "netref: ", cli.err("ping", "--cacert", "/nonexistent/ca.pem", f"127.0.0.1:{port}",
                                                      rc=EXIT_USAGE))


def case_counter(cli, args):
    """The counter sample server (netref): signatures, chains, errors, JSON, both generations."""
    if not args.counter_server:
        print("skipped: the counter sample is not built (NETREF_BUILD_SAMPLES=OFF)")
        return SKIP
    with Server([args.counter_server, "0"], r"listening on 127\.0\.0\.1:(\d+)") as server:
        at = f"127.0.0.1:{server.port}"
        expect_equal("add(2, 3)", cli.out("call", at, "add(2, 3)"), "5\n")
        expect_equal("chain", cli.out("call", at, "make_counter(10).add(5)"), "15\n")
        expect_equal("chain, JSON", cli.out("call", "--json", at, "make_counter(10).add(5)"), "15\n")
        expect_equal("rpyc 5 messages", cli.out("--rpyc", "5", "call", at, "add(-2, 0x10)"), "14\n")
        netref_repr = cli.out("call", at, "make_counter(1)")
        expect_in("a netref result prints its repr", "Counter", netref_repr)
        as_json = json.loads(cli.out("call", at, "make_counter(1)", "--json"))
        expect_equal("a netref in JSON", as_json["netref"], "Counter")

        listing = cli.out("ls", at).splitlines()
        for name in ("add", "make_counter", "apply"):
            if not any(line.startswith(name + "(") for line in listing):
                raise AssertionError(f"ls: no signature for {name} in {listing}")
        expect_in("ls PATH", "make_counter(", cli.out("ls", at, "make_counter"))
        described = cli.out("describe", at, "add").splitlines()
        if not described[0].startswith("add(") or "-> int" not in described[0]:
            raise AssertionError(f"describe add: {described}")
        expect_in("describe's type line", "type: ", "\n".join(described))

        err = cli.err("call", at, "add(2, 'x')", rc=EXIT_REMOTE)
        expect_in("a remote TypeError names its class", "TypeError: ", err)
        err = cli.err("call", at, "nothing_here()", rc=EXIT_REMOTE)
        expect_in("a remote AttributeError", "AttributeError: ", err)
        err = cli.err("call", at, "'text'.upper()", rc=EXIT_USAGE)
        expect_in("a local value is not called", "at column 7: a str value has no attribute 'upper'", err)

        ping = cli.out("ping", "--count", "2", at).splitlines()
        expect_equal("ping says who answered", ping[0], f"{at}: netref server, rpyc 6 messages")
        if len(ping) != 3 or not re.fullmatch(r"ping 2: \d+\.\d{3} ms", ping[2]):
            raise AssertionError(f"ping --count 2: {ping}")


def case_python_service(cli, _args):
    """A stock rpyc service: docstrings, literals of every kind, exceptions, timeouts."""
    with Server([sys.executable, os.path.join(HERE, "py_service.py")], r"ready (\d+)") as server:
        at = f"127.0.0.1:{server.port}"
        ping = cli.out("ping", at)
        expect_equal("generation detected", ping.splitlines()[0], f"{at}: rpyc server, rpyc 5 messages")

        listing = cli.out("ls", at).splitlines()
        names = [line.split()[0] for line in listing]
        expect_equal("ls names", sorted(names), ["echo", "fail", "get_service_aliases", "get_service_name", "greet",
                                                "open_account", "sleep", "version"])
        expect_in("ls docstring", "# Returns a greeting for name.", listing[names.index("greet")])
        described = cli.out("describe", at, "greet")
        expect_in("describe: type", "type: builtins.method", described)
        expect_in("describe: docstring, dedented", "Returns a greeting for name.\n\nThe punctuation ends it.\n",
                  described)

        expect_equal("describe a plain value", cli.out("describe", at, "version"), "version = '1.2'  (str)\n")
        expect_equal("ls a plain value", cli.out("ls", at, "version"), "version = '1.2'  (str)\n")
        expect_equal("keywords", cli.out("call", at, 'greet("ann", punctuation="?")'), "'hello, ann?'\n")
        expect_equal("a chain on rpyc", cli.out("call", at, "open_account(10).deposit(5)"), "15\n")
        expect_equal("literals round-trip",
                     cli.out("call", at, r"""echo(None, True, False, -7, 2.5, 1e-05, 'it\'s', "q\"", b'\x00\xff',
                                                  [1, (2,)], (), 2j)"""),
                     "(None, True, False, -7, 2.5, 1e-05, \"it's\", 'q\"', b'\\x00\\xff', (1, (2,)), (), 2j)\n")
        big = "123456789012345678901234567890"
        expect_equal("big ints", cli.out("call", at, f"echo(-{big})"), f"(-{big},)\n")
        as_json = json.loads(cli.out("call", at, "--json", f"echo({big}, 'caf\u00e9\\n\"', b'\\x00', None, 1.5)"))
        expect_equal("JSON", as_json, [int(big), "caf\u00e9\n\"", "AA==", None, 1.5])

        err = cli.err("call", at, "fail('boom')", rc=EXIT_REMOTE)
        expect_equal("remote exception on stderr", err, "ValueError: boom\n")
        _, err, took = cli.run("call", "--timeout", "0.3", at, "sleep(3)", rc=EXIT_TIMEOUT)
        expect_in("timeout", "netref: timed out", err)
        if took > 2.5:
            raise AssertionError(f"--timeout 0.3 took {took:.1f} s")


def case_classic(cli, _args):
    """Python's classic server (Debian's rpyc_classic): modules reached through getmodule."""
    classic = "/usr/bin/rpyc_classic"
    if not os.path.exists(classic):
        print(f"skipped: {classic} is absent (Debian's python3-rpyc ships it)")
        return SKIP
    with Server([classic, "--host", "127.0.0.1", "--port", "0"], r"server started on \[127\.0\.0\.1\]:(\d+)",
                stream="stderr") as server:
        at = f"127.0.0.1:{server.port}"
        expect_equal("getpid", cli.out("call", at, 'getmodule("os").getpid()'), f"{server.proc.pid}\n")
        expect_equal("attribute of a module", cli.out("call", at, "getmodule('os').sep"), "'/'\n")
        expect_equal("a call at the end of a path (GETATTR, then CALLATTR)",
                     cli.out("call", at, "getmodule('os').path.join('a', 'b')"), "'a/b'\n")
        expect_equal("subscript", cli.out("call", at, "getmodule('sys').argv[0]"),
                     "'/usr/bin/rpyc_classic'\n")
        expect_in("ls of the classic root", "getmodule", cli.out("ls", at))
        err = cli.err("call", at, "getmodule('no_such_module_here')", rc=EXIT_REMOTE)
        expect_in("ModuleNotFoundError", "ModuleNotFoundError: No module named 'no_such_module_here'", err)
        # Last: the server dies in the middle of the call, and the link breaks.
        err = cli.err("call", at, "getmodule('os')._exit(0)", rc=EXIT_CONNECTION)
        expect_in("a broken link", "netref: ", err)


def case_tls(cli, args):
    """The mutual-TLS sample server: --cacert, --cert, --key and --insecure."""
    if not args.tls_server or not shutil.which("openssl"):
        print("skipped: needs the tls_server sample and the openssl command")
        return SKIP
    with tempfile.TemporaryDirectory() as certs:
        subprocess.run(["bash", os.path.join(args.source_dir, "samples/tls/make-certs.sh"), certs], check=True,
                       capture_output=True, timeout=30)
        ca, cert, key = (os.path.join(certs, name) for name in ("ca.crt", "alice.crt", "alice.key"))
        with Server([args.tls_server, certs, "0"], r"listening on 127\.0\.0\.1:(\d+)") as server:
            at = f"127.0.0.1:{server.port}"
            whoami = cli.out("call", "--cacert", ca, "--cert", cert, "--key", key, at, "whoami()")
            expect_in("mutual TLS: the server knows us", "alice", whoami)
            expect_equal("--insecure still presents our certificate",
                         cli.out("call", "--insecure", "--cert", cert, "--key", key, at, "add(2, 3)"), "5\n")
            err = cli.err("call", "--cacert", ca, "--servername", "elsewhere.example", "--cert", cert, "--key", key,
                          at, "add(2, 3)", rc=EXIT_CONNECTION)
            expect_in("--servername is the name checked", "certificate verify failed", err)
            err = cli.err("call", "--cert", cert, "--key", key, at, "add(2, 3)", rc=EXIT_CONNECTION)
            expect_in("the system's CAs do not know the sample CA", "certificate verify failed", err)
            cli.err("call", "--cacert", ca, at, "add(2, 3)", rc=EXIT_CONNECTION)  # no client certificate
            cli.err("call", at, "add(2, 3)", rc=EXIT_CONNECTION)  # plain TCP to a TLS port


def case_services(cli, args):
    """services against netref_registry (UDP and TCP), with servers registered by Python's rpyc."""
    if not args.registry_server:
        print("skipped: netref_registry is not built")
        return SKIP
    from rpyc.utils.registry import TCPRegistryClient, UDPRegistryClient
    for mode, client in (("UDP", UDPRegistryClient), ("TCP", TCPRegistryClient)):
        argv = [args.registry_server, "--host", "127.0.0.1", "-p", "0", "-m", mode, "--listing", "true"]
        with Server(argv, rf"serving {mode} on 127\.0\.0\.1:(\d+)") as registry:
            at = f"127.0.0.1:{registry.port}"
            flags = ["--registry", at] + (["--tcp"] if mode == "TCP" else [])
            rpyc_client = client(ip="127.0.0.1", port=registry.port)
            if not rpyc_client.register(("COUNTER", "TALLY"), 20001):
                raise AssertionError(f"{mode}: the registry did not acknowledge rpyc's REGISTER")
            rpyc_client.register(("ECHO",), 20002)
            listing = cli.out("services", *flags)
            for line in ("COUNTER 127.0.0.1:20001\n", "TALLY 127.0.0.1:20001\n", "ECHO 127.0.0.1:20002\n"):
                expect_in(f"{mode}: every name with its servers", line, listing)
            expect_equal(f"{mode}: one name, any case", cli.out("services", *flags, "counter"),
                         "counter 127.0.0.1:20001\n")
            expect_in(f"{mode}: an unknown name", "no server is registered under 'nothing'",
                      cli.err("services", *flags, "nothing", rc=EXIT_REMOTE))
    # A registry that does not allow listing (both registries' default) still answers QUERY.
    with Server([args.registry_server, "--host", "127.0.0.1", "-p", "0"], r"serving UDP on 127\.0\.0\.1:(\d+)") as registry:
        at = f"127.0.0.1:{registry.port}"
        UDPRegistryClient(ip="127.0.0.1", port=registry.port).register(("COUNTER",), 20001)
        expect_in("listing off", "listing", cli.err("services", "--registry", at, rc=EXIT_REMOTE).lower())
        expect_equal("listing off, one name", cli.out("services", "--registry", at, "COUNTER"),
                     "COUNTER 127.0.0.1:20001\n")
    # No registry there: a connection failure for TCP, a timeout's connection failure for UDP.
    dead = f"127.0.0.1:{free_port()}"
    cli.err("services", "--registry", dead, "--tcp", rc=EXIT_CONNECTION)
    cli.err("services", "--registry", dead, "--timeout", "0.2", rc=EXIT_CONNECTION)


def etcd_post(endpoint, path, body):
    """One POST to etcd's JSON gateway; the answer parsed."""
    import urllib.request
    request = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=2) as answer:
        return json.loads(answer.read())


def b64(text):
    import base64
    return base64.b64encode(text.encode()).decode()


def case_services_etcd(cli, args):
    """services --etcd against a real etcd (started here, stopped by PID) holding what netref's
    etcd registrar writes, plus keys that are not a server's."""
    etcd = shutil.which("etcd") or ("/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else None)
    if etcd is None:
        print("skipped: no etcd (Debian's etcd-server)")
        return SKIP
    client_port, peer_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{client_port}"
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([etcd, "--name", "cli", "--data-dir", data, "--listen-client-urls", endpoint,
                                 "--advertise-client-urls", endpoint, "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                                 "--initial-cluster", f"cli=http://127.0.0.1:{peer_port}",
                                 "--heartbeat-interval", "100", "--election-timeout", "500", "--log-level", "warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Ready when it answers a read (it has elected itself): polled, at most 20 s.
            end = time.monotonic() + 20
            while True:
                try:
                    etcd_post(endpoint, "/v3/kv/range", {"key": b64("ready")})
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > end:
                        raise AssertionError("etcd did not start")
                    time.sleep(0.05)
            def put(key, value):
                etcd_post(endpoint, "/v3/kv/put", {"key": b64(key), "value": b64(value)})
            endpoint_json = lambda addr: json.dumps({"Op": 0, "Addr": addr, "Metadata": {}})
            put("netref/services/COUNTER/127.0.0.1:20001", endpoint_json("127.0.0.1:20001"))
            put("netref/services/COUNTER/127.0.0.1:20002", endpoint_json("127.0.0.1:20002"))
            put("netref/services/JOBS/127.0.0.1:20003", endpoint_json("127.0.0.1:20003"))
            put("netref/services/GARBAGE/x", "not json")          # not a server: left out
            put("netref/services/lonely", endpoint_json("127.0.0.1:1"))  # no NAME/ level: left out
            expect_equal("etcd: every service", cli.out("services", "--etcd", endpoint),
                         "COUNTER 127.0.0.1:20001 127.0.0.1:20002\nJOBS 127.0.0.1:20003\n")
            expect_equal("etcd: one name, any case", cli.out("services", "--etcd", endpoint, "counter"),
                         "counter 127.0.0.1:20001 127.0.0.1:20002\n")
            expect_in("etcd: no such name", "no servers of 'nothing'",
                      cli.err("services", "--etcd", endpoint, "nothing", rc=EXIT_REMOTE))
            # A dead member first, then the live one: the list still comes.
            dead = f"http://127.0.0.1:{free_port()}"
            expect_in("etcd: a dead member is passed over", "JOBS",
                      cli.out("services", "--etcd", f"{dead},{endpoint}"))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    cli.err("services", "--etcd", f"http://127.0.0.1:{free_port()}", "--timeout", "0.5", rc=EXIT_CONNECTION)
    expect_in("etcd: not a URL", "http://", cli.err("services", "--etcd", "127.0.0.1:2379", rc=EXIT_USAGE))
    expect_in("etcd and registry", "one or the other",
              cli.err("services", "--etcd", endpoint, "--registry", "127.0.0.1", rc=EXIT_USAGE))


CASES = {"usage": case_usage, "services": case_services, "services-etcd": case_services_etcd, "counter": case_counter, "python-service": case_python_service,
         "classic": case_classic, "tls": case_tls}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--netref", required=True)
    parser.add_argument("--counter-server")
    parser.add_argument("--tls-server")
    parser.add_argument("--registry-server")
    parser.add_argument("--source-dir", default=os.path.dirname(os.path.dirname(HERE)))
    args = parser.parse_args()
    cli = Cli(args.netref)
    try:
        status = CASES[args.case](cli, args)
    except AssertionError as e:
        print(f"FAILED ({args.case}, after {cli.checks} runs): {e}", file=sys.stderr)
        return 1
    if status == SKIP:
        return SKIP
    print(f"{args.case}: {cli.checks} runs of netref passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
