"""A pytest plugin that runs rpyc's own test files, unchanged, against C++ netref servers.

rpyc's tests start Python servers for their services (ThreadedServer(MyService),
OneShotServer(MyService), rpyc.connect_thread(remote_service=...)) and connect to them. This
plugin replaces those entry points, in the rpyc the test imports, before the test module is
collected: "start a server for service X" starts rpyc_suite_server (C++, the program named by
NETREF_RPYC_SUITE_SERVER) serving its C++ implementation of X on a free loopback port, and
the test's connect reaches it. The test's classes and assertions are not touched, with one
exception made visible here: a service *instance* handed to connect_thread has its class
swapped for a subclass whose boolean flags (on_connect_called...) are read from the C++
server, since the test reads them off that object.

Ports a test names (18878) are mapped to free ones, so runs in parallel never collide.
Cases that cannot apply to a C++ server are skipped with the reason (CANNOT_APPLY); cases
that fail for a known gap are strict expected failures (EXPECTED_FAILURES).
"""
import atexit
import os
import ssl
import sys
import subprocess
import threading

import pytest

import rpyc
import rpyc.utils.authenticators
import rpyc.utils.factory
import rpyc.utils.registry
import rpyc.utils.server
from rpyc.core.service import VoidService

SERVER_PROGRAM = os.environ.get("NETREF_RPYC_SUITE_SERVER", "")
REGISTRY_PROGRAM = os.environ.get("NETREF_RPYC_SUITE_REGISTRY", "")  # netref_registry

# (test module, service class) -> the service of rpyc_suite_server that implements it.
SERVICES = {
    ("test_custom_service", "MyService"): "custom_service",
    ("test_attr_access", "MyService"): "attr_access",
    ("test_attr_access", "MyDecoratedService"): "attr_access_decorated",
    ("test_remote_exception", "MyService"): "remote_exception",
    ("test_context_managers", "MyService"): "context_managers",
    ("test_threads", "MyService"): "threads",
    ("test_oneshot_server", "MyService"): "oneshot_server",
    ("test_dataclass", "MyService"): "dataclass",
    ("test_rpyc_over_rpyc", "Service"): "over_service",
    ("test_rpyc_over_rpyc", "Intermediate"): "over_intermediate",
    # classic mode; test_ssl.py's cases that run only make the TLS handshake and close
    ("service", "SlaveService"): "void",
}

_ALLOW_SWITCHES = ("rpyc's allow_* switches decide which attributes of a Python object a Python "
                   "server reaches by introspection; a C++ binding exposes exactly the names it "
                   "defines, and netref has no such switch")
# "module::Class::test" -> why it cannot apply to a C++ server (not run).
CANNOT_APPLY = {
    "test_custom_service::TestCustomService::test_instancecheck_list":
        "asks the server to run Python's isinstance() of a value against the client's `list` "
        "class; a C++ server has no Python classes to check against",
    "test_attr_access::TestConfigAllows::test_allow_all": _ALLOW_SWITCHES,
    "test_attr_access::TestConfigAllows::test_allow_exposed": _ALLOW_SWITCHES,
    "test_attr_access::TestConfigAllows::test_allow_safe_attrs": _ALLOW_SWITCHES,
    "test_attr_access::TestConfigAllows::test_allow_public_attrs": _ALLOW_SWITCHES,
    "test_ssl::Test_SSL::test_client":
        "classic mode: runs Python code on the server (modules, execute, eval)",
    "test_ssl::Test_SSL_CERT_NONE::test_nokey_noexc":
        "classic mode: rpyc.classic.ssl_connect's own service asks the server for getmodule as "
        "it connects",
    "test_remote_exception::TestRemoteException::test_remote_exception":
        "its second half needs server and client in one Python process: the service's "
        "set_version rewrites rpyc.version.__version__, and the test expects the client's own "
        "version to have changed with it",
}
# "module::Class::test" -> the known gap it fails on (run, must fail).
EXPECTED_FAILURES = {}

# The protocol_config / remote_config keys the C++ server honours; the others (allow_*,
# allow_setattr...) change nothing a netref server does for these services.
HONOURED = {"include_local_traceback": True, "include_local_version": True, "exposed_prefix": "exposed_"}

PORT_MAP = {}       # a port the test named -> the free port its C++ server has
SERVERS = {}        # real port -> the CppServer listening there
_PROCESSES = []     # every program started (rpyc_suite_server, netref_registry), stopped at the end
_INSTANCES = {}     # id(service instance) -> (instance, its ServerProcess)

_orig_connect = rpyc.utils.factory.connect
_orig_ssl_connect = rpyc.utils.factory.ssl_connect


def service_key(service):
    cls = service if isinstance(service, type) else type(service)
    module = cls.__module__.rsplit(".", 1)[-1]
    key = SERVICES.get((module, cls.__name__))
    if key is None:
        raise RuntimeError(f"netref rpyc suite: no C++ implementation of {module}.{cls.__name__}")
    return key


def honoured(config):
    return {k: (config or {}).get(k, default) for k, default in HONOURED.items()}


class ServerProcess:
    """One rpyc_suite_server: its services' state, and the servers it runs (listen)."""

    def __init__(self, key):
        if not SERVER_PROGRAM:
            raise RuntimeError("netref rpyc suite: NETREF_RPYC_SUITE_SERVER is not set")
        argv = [SERVER_PROGRAM, key]
        for named, real in PORT_MAP.items():
            argv += ["--map", f"{named}={real}"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lock = threading.Lock()
        self.ports = {}  # honoured settings -> port
        _PROCESSES.append(self)

    def ask(self, line):
        with self.lock:
            if self.proc.poll() is not None:
                raise RuntimeError(f"netref rpyc suite: the server ended (status {self.proc.returncode})")
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline().strip()
        if not reply or reply.startswith("error"):
            raise RuntimeError(f"netref rpyc suite: {line!r} -> {reply or 'no answer'}")
        return reply

    def listen(self, kind, config, tls=()):
        settings = honoured(config)
        cache = (kind,) + tuple(sorted(settings.items())) + tuple(tls)
        if kind == "threaded" and cache in self.ports:
            return self.ports[cache]
        words = ["listen", kind]
        if not settings["include_local_traceback"]:
            words.append("include_local_traceback=0")
        if not settings["include_local_version"]:
            words.append("include_local_version=0")
        if settings["exposed_prefix"] != "exposed_":
            words.append(f"exposed_prefix={settings['exposed_prefix']}")
        words += list(tls)
        port = int(self.ask(" ".join(words)).split()[1])
        self.ports[cache] = port
        return port

    def state(self, name):
        return self.ask(f"state {name}") == "true"

    def clients(self):
        return 0 if self.proc.poll() is not None else int(self.ask("clients"))

    def closed(self):
        return self.proc.poll() is not None or self.ask("closed") == "true"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.proc.stdout.close()


def stop_all():
    """Stops every program the shim started; returns the complaints about how they ended (a
    C++ server that crashed, or that a sanitizer stopped, fails the run)."""
    complaints = []
    while _PROCESSES:
        process = _PROCESSES.pop()
        process.stop()
        if process.proc.returncode != 0:
            complaints.append(f"{' '.join(process.proc.args)} ended with status {process.proc.returncode}")
    return complaints


atexit.register(stop_all)  # a run that ends early still stops them


class _Logger:
    quiet = True


class _Listener:
    def __init__(self, server):
        self._server = server

    @property
    def _closed(self):
        return self._server._closed


class _Thread:
    """What _start_in_thread returns. The tests join it once the server is closed (close(), or
    a one-shot server's connection gone); joining a server still serving would wait forever,
    so it raises instead."""

    def __init__(self, server):
        self._server = server

    def join(self, timeout=None):
        if not self._server._closed:
            raise RuntimeError("netref rpyc suite: join() on a server still serving")


class CppServer:
    """rpyc.utils.server's servers, served by rpyc_suite_server."""
    KIND = "threaded"

    def __init__(self, service, hostname=None, ipv6=False, port=0, protocol_config=None, logger=None,
                 authenticator=None, **_):
        self.service = service
        self.protocol_config = dict(protocol_config or {})
        self.logger = _Logger()
        self._process = ServerProcess(service_key(service))
        self._settings = honoured(self.protocol_config)
        real = self._process.listen(self.KIND, self.protocol_config, _tls_settings(authenticator))
        self.port = port or real
        if port:
            PORT_MAP[port] = real
        SERVERS[real] = self
        self.listener = _Listener(self)
        self.active = True

    @property
    def clients(self):
        return [None] * self._process.clients()

    @property
    def _closed(self):
        return self._process.closed()

    def _start_in_thread(self):
        return _Thread(self)

    def close(self):
        self.active = False
        self._process.stop()

    def _check_settings(self):
        if honoured(self.protocol_config) != self._settings:
            raise NotImplementedError("netref rpyc suite: protocol_config changed a setting the C++ server "
                                      "honours after it started")


def _tls_settings(authenticator):
    """rpyc's SSLAuthenticator as the C++ server's TLS settings; no other authenticator."""
    if authenticator is None:
        return ()
    if not isinstance(authenticator, rpyc.utils.authenticators.SSLAuthenticator):
        raise NotImplementedError(f"netref rpyc suite: no C++ counterpart of {type(authenticator).__name__}")
    if authenticator.ssl_version is not None or authenticator.ciphers is not None:
        raise NotImplementedError("netref rpyc suite: SSLAuthenticator's ssl_version and ciphers are not passed on")
    settings = [f"tls_certificate={authenticator.certfile}", f"tls_key={authenticator.keyfile}"]
    if authenticator.cert_reqs != ssl.CERT_NONE:
        # Without ca_certs, rpyc's context (ssl.create_default_context) verifies client
        # certificates against the system's CAs: the same file here.
        ca = authenticator.ca_certs or ssl.get_default_verify_paths().openssl_cafile
        settings += [f"tls_client_ca={ca}", "tls_require_client_certificate=1"]
    return tuple(settings)


class CppOneShotServer(CppServer):
    KIND = "oneshot"


def connect(host, port, service=VoidService, config={}, ipv6=False, keepalive=False):
    real = PORT_MAP.get(port, port)
    if real in SERVERS:
        SERVERS[real]._check_settings()
    if host in ("localhost", "127.0.0.1"):
        host = "127.0.0.1"
    return _orig_connect(host, real, service=service, config=config, ipv6=ipv6, keepalive=keepalive)


def ssl_connect(host, port, *args, **kwargs):
    if host in ("localhost", "127.0.0.1"):
        host = "127.0.0.1"
    return _orig_ssl_connect(host, PORT_MAP.get(port, port), *args, **kwargs)


def _route_flags(instance, process):
    """The instance's boolean class attributes (the flags its methods set) are read from the
    C++ service from now on."""
    cls = type(instance)
    flags = {name for name in dir(cls) if isinstance(getattr(cls, name, None), bool)}

    def __getattribute__(self, name):
        if name in flags:
            return process.state(name)
        return cls.__getattribute__(self, name)

    instance.__class__ = type(cls.__name__, (cls,), {"__getattribute__": __getattribute__,
                                                     "__module__": cls.__module__})


def connect_thread(service=VoidService, config={}, remote_service=VoidService, remote_config={}):
    if isinstance(remote_service, type):
        process = ServerProcess(service_key(remote_service))  # rpyc makes one service per connection
    else:
        entry = _INSTANCES.get(id(remote_service))
        if entry is None:
            entry = (remote_service, ServerProcess(service_key(remote_service)))
            _INSTANCES[id(remote_service)] = entry
            _route_flags(remote_service, entry[1])
        process = entry[1]
    port = process.listen("threaded", remote_config)
    return _orig_connect("127.0.0.1", port, service=service, config=config)


class RegistryServer:
    """rpyc's TCPRegistryServer and UDPRegistryServer, served by netref_registry on a free
    loopback port (the host asked for, 0.0.0.0 in rpyc's test, becomes 127.0.0.1)."""
    MODE = "TCP"
    current_port = None  # the one the test's clients reach

    def __init__(self, host="0.0.0.0", port=rpyc.utils.registry.REGISTRY_PORT, pruning_timeout=None,
                 logger=None, allow_listing=False):
        if not REGISTRY_PROGRAM:
            raise RuntimeError("netref rpyc suite: NETREF_RPYC_SUITE_REGISTRY is not set")
        argv = [REGISTRY_PROGRAM, "--mode", self.MODE, "--host", "127.0.0.1", "--port", "0",
                "--listing", "true" if allow_listing else "false", "--quiet"]
        if pruning_timeout is not None:
            argv += ["--timeout", str(pruning_timeout)]
        self.logger = _Logger()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # "netref_registry: serving TCP on 127.0.0.1:PORT"
        if "serving" not in line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"netref rpyc suite: netref_registry did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        RegistryServer.current_port = self.port
        _PROCESSES.append(self)

    def start(self):
        self.proc.wait()  # serves until close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM to our own child: it stops and reports
            self.proc.wait(timeout=30)
        self.proc.stdout.close()

    close = stop


class UDPRegistryServer(RegistryServer):
    MODE = "UDP"


def _registry_client(cls):
    """The client class as rpyc's, aimed at the registry the test started: its default port
    (18811) becomes the free one, and the UDP client's broadcast address loopback."""
    original_init = cls.__init__

    def __init__(self, ip=None, port=rpyc.utils.registry.REGISTRY_PORT, *args, **kwargs):
        if port == rpyc.utils.registry.REGISTRY_PORT and RegistryServer.current_port:
            port = RegistryServer.current_port
        if ip is None or ip == "255.255.255.255":
            ip = "127.0.0.1"
        original_init(self, ip, port, *args, **kwargs)

    cls.__init__ = __init__


def _install():
    replacements = {
        rpyc.utils.server.ThreadedServer: CppServer,
        rpyc.utils.server.ThreadPoolServer: CppServer,
        rpyc.utils.server.OneShotServer: CppOneShotServer,
        rpyc.utils.factory.connect: connect,
        rpyc.utils.factory.connect_thread: connect_thread,
        rpyc.utils.factory.ssl_connect: ssl_connect,
        rpyc.utils.registry.TCPRegistryServer: RegistryServer,
        rpyc.utils.registry.UDPRegistryServer: UDPRegistryServer,
    }
    _registry_client(rpyc.utils.registry.TCPRegistryClient)
    _registry_client(rpyc.utils.registry.UDPRegistryClient)
    for module in (rpyc, rpyc.utils.server, rpyc.utils.factory, rpyc.utils.registry):
        for name, value in list(vars(module).items()):
            for original, replacement in replacements.items():
                if value is original:
                    setattr(module, name, replacement)


_install()


def _case_key(item):
    module = item.module.__name__.rsplit(".", 1)[-1]
    return f"{module}::{item.cls.__name__ if item.cls else ''}::{item.name}"


def pytest_report_header(config):
    return f"rpyc {rpyc.__version__} from {os.path.dirname(rpyc.__file__)}; services by {SERVER_PROGRAM}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        key = _case_key(item)
        if key in CANNOT_APPLY:
            item.add_marker(pytest.mark.skip(reason="cannot apply: " + CANNOT_APPLY[key]))
        elif key in EXPECTED_FAILURES:
            item.add_marker(pytest.mark.xfail(strict=True, raises=AssertionError, reason=EXPECTED_FAILURES[key]))


def pytest_sessionfinish(session, exitstatus):
    # Every rpyc module the tests used is the generation asked for.
    root = os.path.dirname(rpyc.__file__)
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if name.split(".")[0] == "rpyc" and path and not path.startswith(root):
            raise RuntimeError(f"netref rpyc suite: {name} came from {path}, not {root}")
