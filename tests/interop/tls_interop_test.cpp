// TLS interop with stock Python rpyc 5.3 (/usr/bin/python3): rpyc.ssl_connect against our
// mutual-TLS ThreadPoolServer, and our TLS client against an rpyc ThreadedServer behind
// rpyc's SSLAuthenticator. Certificates: tests/tls/make_certs.sh.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "child_process.hpp"
#include "tls/certs.hpp"

using namespace netref;
using netref::test::cert;
using netref::test::cert_dir;
using netref::test::ChildProcess;
using netref::test::interop_script;
using netref::test::read_ready_port;
using netref::test::key;

namespace {

std::string cert_file(const std::string& name) { return (cert_dir() / (name + ".pem")).string(); }
std::string key_file(const std::string& name) { return (cert_dir() / (name + ".key")).string(); }

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

/// What the server logs (rejected handshakes), collected from its threads.
class ServerLog {
 public:
  LogHandler sink() {
    return [this](LogLevel, std::string_view line, ConnectionId) {
      {
        std::lock_guard lk(mutex_);
        text_.append(line).push_back('\n');
      }
      logged_.notify_all();
    };
  }
  std::string text() const {
    std::lock_guard lk(mutex_);
    return text_;
  }
  /// Waits until the log holds needle (the server logs after the client may have seen the close).
  bool wait_for(const std::string& needle, std::chrono::seconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lk(mutex_);
    return logged_.wait_for(lk, timeout, [&] { return text_.find(needle) != std::string::npos; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable logged_;
  std::string text_;
};

/// A mutual-TLS ThreadPoolServer on loopback that lets in clients signed by ca-a, with the
/// service py_tls_client.py drives. The identity on_connect saw arrives through identity().
struct TlsServerUnderTest {
  Registry types;
  Service service{types};
  ServerLog log;
  std::promise<std::string> connected;
  std::once_flag connected_once;
  std::unique_ptr<ThreadPoolServer> server;

  TlsServerUnderTest() {
    types.expose<Counter>("Counter").def("add", &Counter::add).def_readwrite("value", &Counter::value);
    service.def("whoami", [] { return Connection::current()->peer_identity(); });
    service.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    service.def("scale", [](std::int64_t x, std::int64_t factor) { return x * factor; }, arg("x"),
                arg("factor") = 2);
    service.def("echo_text", [](std::string s) { return s; });
    service.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
    service.def("read_counter", [](const Counter& c) { return c.value; });
    service.def("divide", [](std::int64_t a, std::int64_t b) {
      if (b == 0) throw std::invalid_argument("division by zero");
      return a / b;
    });
    service.def("apply", [](Proxy fn, std::int64_t x) { return fn->call(x); });
    service.on_connect([this](Connection& c) {
      std::call_once(connected_once, [&] { connected.set_value(c.peer_identity()); });
    });

    TlsServerOptions tls;
    tls.certificate = cert("server-a");
    tls.private_key = key("server-a");
    tls.client_ca = cert("ca-a");
    tls.require_client_certificate = true;
    ServerConfig cfg;
    cfg.port = 0;
    cfg.tls = TlsContext::server(tls);
    cfg.log = log.sink();
    server = std::make_unique<ThreadPoolServer>(service, cfg);
    server->start();
  }
  ~TlsServerUnderTest() { server->stop(); }

  /// py_tls_client.py against this server; certificate "" runs it without one.
  ChildProcess python_client(const std::string& certificate) const {
    std::vector<std::string> argv{"/usr/bin/python3", interop_script("py_tls_client.py"),
                                  std::to_string(server->port()), cert_file("ca-a")};
    if (!certificate.empty()) {
      argv.push_back(cert_file(certificate));
      argv.push_back(key_file(certificate));
    }
    return ChildProcess(std::move(argv));
  }
};

/// py_tls_server.py: rpyc's ThreadedServer with SSLAuthenticator (server-a's certificate,
/// client certificates required and checked against ca-a). Waits for its "ready PORT".
struct PythonTlsServer {
  ChildProcess process{{"/usr/bin/python3", interop_script("py_tls_server.py"), cert_file("server-a"),
                        key_file("server-a"), cert_file("ca-a")}};
  std::uint16_t port = 0;

  PythonTlsServer() {
    std::string line;
    port = read_ready_port(process, line);
    if (port == 0) FAIL("the Python TLS server did not start: " << line);
  }

  /// A client speaking rpyc 5's generation that trusts trusted_ca and, unless who is "",
  /// presents who's certificate.
  static ClientConfig client_config(const std::string& who, const std::string& trusted_ca = "ca-a") {
    TlsClientOptions tls;
    tls.ca = cert(trusted_ca);
    if (!who.empty()) {
      tls.certificate = cert(who);
      tls.private_key = key(who);
    }
    ClientConfig config;
    config.tls = TlsContext::client(tls);
    config.connection.generation = Generation::v5;
    config.connect_timeout = std::chrono::seconds(5);
    config.connection.sync_request_timeout = std::chrono::seconds(10);
    return config;
  }
};

}  // namespace

TEST_CASE("a Python rpyc 5.3 client with ssl_connect and alice's certificate uses our mutual-TLS ThreadPoolServer") {
  TlsServerUnderTest tls_server;
  ChildProcess py = tls_server.python_client("client-alice");
  const std::string output = py.read_all();
  const int status = py.wait();
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("ALL OK") != std::string::npos);
  CHECK(output.find("ok netref method") != std::string::npos);
  CHECK(output.find("ok C++ exception arrives as ValueError") != std::string::npos);
  // the server saw alice, in on_connect and through Connection::current() in a call
  auto identity = tls_server.connected.get_future();
  REQUIRE(identity.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  const std::string who = identity.get();
  CHECK(who.find("CN=alice") != std::string::npos);
  CHECK(who.find("O=Example") != std::string::npos);
  CHECK(output.find("whoami " + who + "\n") != std::string::npos);
}

TEST_CASE("a Python rpyc 5.3 client without a certificate is refused by our mutual-TLS server with an SSL error") {
  TlsServerUnderTest tls_server;
  ChildProcess py = tls_server.python_client("");
  const std::string output = py.read_all();
  const int status = py.wait();
  INFO(output);
  INFO(tls_server.log.text());
  CHECK(status == 3);  // py_tls_client.py: refused
  // TLS 1.3: rpyc's first request leaves before we looked at the (missing) certificate; the
  // refused socket lingers, so the request meets our alert, not a reset.
  CHECK(output.find("refused ssl.SSLError ") != std::string::npos);
  CHECK(output.find("alert certificate required") != std::string::npos);
  CHECK(tls_server.log.wait_for("peer did not return a certificate"));
  CHECK(tls_server.server->stats().handshake_failures == 1);

  // the refusal cost nothing: alice still gets in
  ChildProcess alice = tls_server.python_client("client-alice");
  const std::string alice_output = alice.read_all();
  INFO(alice_output);
  CHECK(alice.wait() == 0);
  CHECK(alice_output.find("ALL OK") != std::string::npos);
}

TEST_CASE("our TLS client with alice's certificate uses a Python rpyc 5.3 server behind SSLAuthenticator") {
  PythonTlsServer py;
  auto conn = netref::connect("127.0.0.1", py.port, PythonTlsServer::client_config("client-alice"));
  CHECK_FALSE(conn->connection().peer_is_netref());
  auto root = conn->root();

  CHECK(root->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  // SSLAuthenticator's credentials are our verified certificate
  CHECK(root->attr("whoami")->call().as<std::string>() == "organizationName=Example,commonName=alice");

  auto box = root->attr("make_box")->call(7);
  CHECK(box.is_netref());
  CHECK(box->attr("get")->call().as<std::int64_t>() == 7);
  CHECK(box->attr("value")->get().as<std::int64_t>() == 7);

  try {
    root->attr("fail")->call("broken over TLS");
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "ValueError");
    CHECK(e.message() == "broken over TLS");
    CHECK(e.remote_traceback().find("Traceback") != std::string::npos);
  }
  CHECK_THROWS_AS(root->attr("fail")->call("again"), ValueError);

  auto pending = root->attr("add")->async_call(40, 2);
  CHECK(pending.value().as<std::int64_t>() == 42);
  CHECK(root->attr("add")->call(1, 1).as<std::int64_t>() == 2);  // still fine
  conn->close();
}

TEST_CASE("our TLS client refuses a Python rpyc server whose certificate its CA did not sign") {
  PythonTlsServer py;
  try {
    auto conn = netref::connect("127.0.0.1", py.port, PythonTlsServer::client_config("client-alice", "ca-b"));
    conn->root()->attr("add")->call(1, 2);
    FAIL("connected to a server signed by a CA we do not trust");
  } catch (const ConnectError& e) {
    INFO(std::string(e.what()));
    CHECK(std::string(e.what()).find("certificate verify failed") != std::string::npos);
  }
  // the Python server lives on: a client that trusts ca-a still gets in
  auto good = netref::connect("127.0.0.1", py.port, PythonTlsServer::client_config("client-alice"));
  CHECK(good->root()->attr("add")->call(20, 22).as<std::int64_t>() == 42);
}

TEST_CASE("SSLAuthenticator with CERT_REQUIRED turns away our TLS client when it has no certificate") {
  PythonTlsServer py;
  CHECK_THROWS_AS(
      [&] {
        auto conn = netref::connect("127.0.0.1", py.port, PythonTlsServer::client_config(""));
        conn->root()->attr("add")->call(1, 2);
      }(),
      ConnectionClosed);
}
