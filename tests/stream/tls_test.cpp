// TLS streams: round trips, threads, close and close_notify, contexts, and the failure rows
// J1-J9 of docs/FAULTS.md. Certificates come from tests/tls/make_certs.sh. A bare OpenSSL
// client stands in for peers TlsContext never makes on purpose (old versions,
// renegotiation, key updates).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "netref/stream/socket_stream.hpp"
#include "netref/stream/tls.hpp"
#include "stream/stream_text.hpp"
#include "tls/certs.hpp"

extern char** environ;

using namespace netref;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using netref::test::bytes_of;
using netref::test::read_string;

// ---------------------------------------------------------------------------------------
// Certificates and contexts

using netref::test::cert;
using netref::test::key;

std::string file_text(const Pem& pem) {
  std::ifstream in(pem.path);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TlsServerOptions server_options(const std::string& name = "server-a") {
  TlsServerOptions options;
  options.certificate = cert(name);
  options.private_key = key(name);
  return options;
}

// Mutual TLS: clients need a certificate from CA A.
TlsServerOptions mtls_server_options() {
  TlsServerOptions options = server_options();
  options.client_ca = cert("ca-a");
  options.require_client_certificate = true;
  return options;
}

TlsClientOptions client_options(const std::string& ca = "ca-a", const std::string& identity = "") {
  TlsClientOptions options;
  options.ca = cert(ca);
  if (!identity.empty()) {
    options.certificate = cert(identity);
    options.private_key = key(identity);
  }
  return options;
}

// ---------------------------------------------------------------------------------------
// Servers

// What the server side of one connection ended with.
struct Accepted {
  std::unique_ptr<TlsStream> stream;  // null when the handshake failed
  std::string error;                  // the handshake's error message
  bool timed_out = false;             // the handshake threw Timeout
  clock_type::duration took{};        // from accept to the end of the handshake
};

// A TLS server that accepts one connection and runs its handshake in a thread doctest does
// not own; the result comes back through a future. Destroying it closes the listener, so a
// client that never connected cannot leave the thread waiting.
class OneShotServer {
 public:
  explicit OneShotServer(TlsContext context, std::chrono::milliseconds handshake_timeout = 5s,
                         const std::string& host = "127.0.0.1")
      : listener_(listen_tcp(host, 0)) {
    result_ = std::async(std::launch::async, [this, context, handshake_timeout] {
      Accepted accepted;
      StreamPtr plain = listener_->accept();
      if (!plain) {
        accepted.error = "nobody connected";
        return accepted;
      }
      const auto start = clock_type::now();
      auto tls = accept_tls(std::move(plain), context);
      try {
        tls->handshake(handshake_timeout);
        accepted.stream = std::move(tls);
      } catch (const Timeout& error) {
        accepted.timed_out = true;
        accepted.error = error.what();
      } catch (const ConnectionClosed& error) {
        accepted.error = error.what();
      }
      accepted.took = clock_type::now() - start;
      return accepted;  // a failed stream dies here: its peer sees the end
    });
  }
  ~OneShotServer() {
    listener_->close();
    if (result_.valid()) result_.wait();
  }
  OneShotServer(const OneShotServer&) = delete;
  OneShotServer& operator=(const OneShotServer&) = delete;

  std::uint16_t port() const { return listener_->port(); }

  Accepted get() {
    REQUIRE(result_.wait_for(10s) == std::future_status::ready);
    return result_.get();
  }

 private:
  std::unique_ptr<Listener> listener_;
  std::future<Accepted> result_;
};

// A handshaken TLS connection: {client side, server side}.
std::pair<StreamPtr, std::unique_ptr<TlsStream>> tls_pair(
    const TlsServerOptions& server_side = server_options(),
    const TlsClientOptions& client_side = client_options(), const std::string& host = "127.0.0.1") {
  OneShotServer server(TlsContext::server(server_side), 5s, host);
  auto client = connect_tls(host, server.port(), TlsContext::client(client_side), 5s);
  Accepted accepted = server.get();
  REQUIRE_MESSAGE(accepted.stream != nullptr, accepted.error);
  return {std::move(client), std::move(accepted.stream)};
}

// How a connect_tls that must fail failed.
struct Refusal {
  std::string message;
  clock_type::duration took{};
};

Refusal refused_connect(std::uint16_t port, const TlsClientOptions& options,
                        const std::string& host = "127.0.0.1",
                        std::chrono::milliseconds timeout = 5s) {
  const auto context = TlsContext::client(options);
  const auto start = clock_type::now();
  try {
    connect_tls(host, port, context, timeout);
  } catch (const ConnectError& error) {
    return Refusal{error.what(), clock_type::now() - start};
  }
  FAIL("connect_tls to " << host << ":" << port << " succeeded but should not");
  return {};
}

// Both directions, a gathered write of small pieces and 4 MiB in one piece.
void check_round_trip(Stream& a, Stream& b) {
  const auto head = bytes_of("head-");
  const auto body = bytes_of(std::string(100000, 'x'));
  const auto tail = bytes_of("-tail");
  const std::span<const std::uint8_t> pieces[3] = {head, body, tail};
  auto reader = std::async(std::launch::async, [&] { return read_string(b, 100010); });
  a.write_all(std::span<const std::span<const std::uint8_t>>(pieces));
  CHECK(reader.get() == "head-" + std::string(100000, 'x') + "-tail");

  std::vector<std::uint8_t> big(4 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7 + i / 4096);
  auto big_reader = std::async(std::launch::async, [&] {
    std::vector<std::uint8_t> got(big.size());
    b.read_exact(got);
    return got;
  });
  a.write_all(big);
  CHECK(big_reader.get() == big);

  b.write_all(bytes_of("pong"));
  CHECK(read_string(a, 4) == "pong");
}

// Reads until the stream ends; true if it ended within the bound.
bool ends_within(Stream& stream, std::chrono::milliseconds bound) {
  const auto deadline = clock_type::now() + bound;
  std::vector<std::uint8_t> buffer(4096);
  try {
    while (clock_type::now() < deadline) {
      if (stream.read_available(buffer) == 0) {
        stream.poll(std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now()));
      }
    }
  } catch (const ConnectionClosed&) {
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// A bare OpenSSL client on a blocking socket

struct RawTlsClient {
  StreamPtr tcp;  // owns the socket
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;

  RawTlsClient(std::uint16_t port, int min_version, int max_version) {
    tcp = connect_tcp("127.0.0.1", port);
    ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx != nullptr);
    SSL_CTX_set_security_level(ctx, 0);  // lets TLS 1.1 offer its SHA-1 era suites
    REQUIRE(SSL_CTX_set_min_proto_version(ctx, min_version) == 1);
    REQUIRE(SSL_CTX_set_max_proto_version(ctx, max_version) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    ssl = SSL_new(ctx);
    REQUIRE(ssl != nullptr);
    REQUIRE(SSL_set_fd(ssl, tcp->native_handle()) == 1);
  }
  ~RawTlsClient() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  bool connect() {
    ERR_clear_error();
    return SSL_connect(ssl) == 1;
  }
  // The reason of the first queued OpenSSL error, and the queue emptied.
  static std::string error() {
    const unsigned long code = ERR_peek_error();
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    ERR_clear_error();
    return reason ? reason : "";
  }
};

// A bare OpenSSL server on a blocking socket, with the certificate of server-a.
struct RawTlsServer {
  std::unique_ptr<Listener> listener = listen_tcp("127.0.0.1", 0);
  StreamPtr tcp;  // the accepted socket
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;

  explicit RawTlsServer(int max_version) {
    ctx = SSL_CTX_new(TLS_server_method());
    REQUIRE(ctx != nullptr);
    REQUIRE(SSL_CTX_set_max_proto_version(ctx, max_version) == 1);
    REQUIRE(SSL_CTX_use_certificate_chain_file(ctx, cert("server-a").path.c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, key("server-a").path.c_str(), SSL_FILETYPE_PEM) == 1);
  }
  ~RawTlsServer() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  RawTlsServer(const RawTlsServer&) = delete;
  RawTlsServer& operator=(const RawTlsServer&) = delete;

  std::uint16_t port() const { return listener->port(); }

  // Accepts one connection and runs the handshake; from a thread doctest does not own, so
  // it only reports.
  bool accept() {
    tcp = listener->accept();
    if (!tcp) return false;
    ssl = SSL_new(ctx);
    return ssl != nullptr && SSL_set_fd(ssl, tcp->native_handle()) == 1 && SSL_accept(ssl) == 1;
  }
};

// ---------------------------------------------------------------------------------------
// The openssl command-line tool as a child process

struct CommandResult {
  bool started = false;
  std::string output;  // stdout and stderr
};

// Runs argv with stdin from /dev/null, collects its output for at most bound, and ends it
// (by its PID only) if it is still running then.
CommandResult run_command(std::vector<std::string> argv, std::chrono::milliseconds bound) {
  CommandResult result;
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return result;
  }
  result.started = true;
  const auto deadline = clock_type::now() + bound;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left <= 0ms) break;
    pollfd entry{out[0], POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  return result;
}

// The first 10 bytes of a TLS 1.2-style ClientHello: a handshake record header (type 22,
// version 3.1, 512 bytes) and the start of the message (type 1, 508 bytes, version 3.3).
const std::vector<std::uint8_t> kClientHelloStart = {0x16, 0x03, 0x01, 0x02, 0x00,
                                                     0x01, 0x00, 0x01, 0xfc, 0x03};

}  // namespace

// =========================================================================================
// Working connections

TEST_CASE("bytes written on a TLS connection arrive in order in both directions") {
  auto [client, server] = tls_pair();
  check_round_trip(*client, *server);
  check_round_trip(*server, *client);
  CHECK(server->protocol_version() == "TLSv1.3");
  CHECK(contains(client->peer_name(), "tcp 127.0.0.1:"));
  CHECK(contains(server->peer_name(), "tcp 127.0.0.1:"));
  CHECK(client->native_handle() >= 0);
}

TEST_CASE("a TLS client verifies a host name and an IPv6 address against the certificate") {
  SUBCASE("localhost matches DNS:localhost") {
    auto [client, server] = tls_pair(server_options(), client_options(), "localhost");
    check_round_trip(*client, *server);
  }
  SUBCASE("::1 matches IP:::1") {
    try {
      listen_tcp("::1", 0);
    } catch (const ConnectError&) {
      MESSAGE("skipped: no IPv6 loopback on this machine");
      return;
    }
    auto [client, server] = tls_pair(server_options(), client_options(), "::1");
    check_round_trip(*client, *server);
    CHECK(contains(client->peer_name(), "tcp [::1]:"));
  }
}

TEST_CASE("a reader and a writer run concurrently on each end of a TLS connection") {
  auto [client, server] = tls_pair();
  // A thread that fails must not leave its partner waiting for ever: bounded waits.
  client->set_write_timeout(10s);
  server->set_write_timeout(10s);
  constexpr std::size_t kBytes = 3 << 20;
  auto pattern = [](std::size_t i, std::uint8_t seed) {
    return static_cast<std::uint8_t>(i * 131 + i / 1000 + seed);
  };
  // Gathered writes of three pieces of changing sizes, so records and pieces never align.
  auto write_side = [&](Stream& stream, std::uint8_t seed) {
    std::vector<std::uint8_t> all(kBytes);
    for (std::size_t i = 0; i < kBytes; ++i) all[i] = pattern(i, seed);
    std::size_t done = 0;
    for (std::size_t round = 0; done < kBytes; ++round) {
      const std::size_t a = std::min<std::size_t>(5, kBytes - done);
      const std::size_t b = std::min<std::size_t>((round * 7919) % 40000, kBytes - done - a);
      const std::size_t c = std::min<std::size_t>(1, kBytes - done - a - b);
      const std::span<const std::uint8_t> pieces[3] = {std::span(all).subspan(done, a),
                                                       std::span(all).subspan(done + a, b),
                                                       std::span(all).subspan(done + a + b, c)};
      stream.write_all(std::span<const std::span<const std::uint8_t>>(pieces));
      done += a + b + c;
    }
  };
  auto read_side = [&](Stream& stream, std::uint8_t seed) {
    std::vector<std::uint8_t> chunk(65536);
    std::size_t done = 0;
    std::size_t bad = 0;
    while (done < kBytes) {
      const std::size_t n =
          stream.read_available(std::span(chunk).first(std::min(chunk.size(), kBytes - done)));
      if (n == 0) {
        if (!stream.poll(10s)) return kBytes;  // the writer stalled: count all as bad
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) bad += chunk[i] != pattern(done + i, seed);
      done += n;
    }
    return bad;
  };
  auto client_writer = std::async(std::launch::async, [&] { write_side(*client, 1); });
  auto server_writer = std::async(std::launch::async, [&] { write_side(*server, 2); });
  auto client_reader = std::async(std::launch::async, [&] { return read_side(*client, 2); });
  auto server_reader = std::async(std::launch::async, [&] { return read_side(*server, 1); });
  CHECK(server_reader.get() == 0);
  CHECK(client_reader.get() == 0);
  CHECK_NOTHROW(client_writer.get());
  CHECK_NOTHROW(server_writer.get());
}

TEST_CASE("poll reports bytes TLS has decrypted and buffered even when the socket is empty") {
  auto [client, server] = tls_pair();
  client->write_all(bytes_of(std::string(100, 'y')));  // one record
  std::uint8_t first[10];
  std::size_t got = 0;
  while (got == 0) {
    REQUIRE(server->poll(5000ms));
    got = server->read_available(first);
  }
  REQUIRE(got == 10);
  // The other 90 bytes came with the same record: they sit inside OpenSSL, not the socket.
  pollfd socket_state{server->native_handle(), POLLIN, 0};
  REQUIRE(::poll(&socket_state, 1, 0) == 0);
  CHECK(server->poll(0ms));
  std::vector<std::uint8_t> rest(200);
  CHECK(server->read_available(rest) == 90);
  CHECK_FALSE(server->poll(0ms));
}

TEST_CASE("session tickets alone are no data: read_available returns 0 for them") {
  auto [client, server] = tls_pair();
  REQUIRE(server->protocol_version() == "TLSv1.3");
  // After its handshake the server sent session tickets: records, but no application data.
  REQUIRE(client->poll(5000ms));
  std::uint8_t buffer[64];
  int rounds = 0;
  do {
    CHECK(client->read_available(buffer) == 0);
  } while (++rounds < 50 && client->poll(100ms));
  server->write_all(bytes_of("data"));
  CHECK(read_string(*client, 4) == "data");
}

TEST_CASE("mutual TLS: the server sees the verified subject of the client's certificate") {
  auto [client, server] = tls_pair(mtls_server_options(), client_options("ca-a", "client-alice"));
  CHECK(server->peer_certificate_subject() == "CN=alice,O=Example");
  CHECK(client->peer_certificate_subject() == "CN=localhost");
  check_round_trip(*client, *server);

  auto [plain_client, plain_server] = tls_pair();  // no client certificate asked for
  CHECK(plain_server->peer_certificate_subject().empty());
}

TEST_CASE("certificates, keys and CAs given as PEM text work as files do") {
  TlsServerOptions server_side = mtls_server_options();
  server_side.certificate = Pem::memory(file_text(server_side.certificate));
  server_side.private_key = Pem::memory(file_text(server_side.private_key));
  server_side.client_ca = Pem::memory(file_text(server_side.client_ca));
  TlsClientOptions client_side = client_options("ca-a", "client-alice");
  client_side.ca = Pem::memory(file_text(client_side.ca));
  client_side.certificate = Pem::memory(file_text(client_side.certificate));
  client_side.private_key = Pem::memory(file_text(client_side.private_key));
  auto [client, server] = tls_pair(server_side, client_side);
  CHECK(server->peer_certificate_subject() == "CN=alice,O=Example");
  client->write_all(bytes_of("hi"));
  CHECK(read_string(*server, 2) == "hi");
}

TEST_CASE("insecure_skip_verification accepts a server whose CA is not trusted") {
  TlsClientOptions options = client_options("ca-a");
  options.insecure_skip_verification = true;
  auto [client, server] = tls_pair(server_options("server-b"), options);
  client->write_all(bytes_of("ok"));
  CHECK(read_string(*server, 2) == "ok");
  CHECK(client->peer_certificate_subject().empty());  // nothing was verified
}

TEST_CASE("server_name replaces the host for verification") {
  TlsClientOptions options = client_options();
  options.server_name = "otherhost";
  auto [client, server] = tls_pair(server_options("server-otherhost"), options);
  CHECK(client->peer_certificate_subject() == "CN=otherhost");
}

// =========================================================================================
// Close

TEST_CASE("close wakes a thread blocked in read_exact or poll on a TLS stream") {
  auto [client, server] = tls_pair();
  SUBCASE("read_exact") {
    auto reader = std::async(std::launch::async, [&] { read_string(*server, 4); });
    REQUIRE(reader.wait_for(50ms) == std::future_status::timeout);  // it is blocked
    server->close();
    CHECK_THROWS_AS(reader.get(), ConnectionClosed);
  }
  SUBCASE("poll") {
    auto poller = std::async(std::launch::async, [&] { return server->poll(-1ms); });
    REQUIRE(poller.wait_for(50ms) == std::future_status::timeout);
    server->close();
    CHECK_THROWS_AS(poller.get(), ConnectionClosed);
  }
  CHECK(server->closed());
  server->close();  // idempotent
  CHECK_THROWS_AS(server->write_all(bytes_of("x")), ConnectionClosed);
  CHECK_THROWS_AS(server->poll(0ms), ConnectionClosed);
  CHECK_THROWS_AS(read_string(*server, 1), ConnectionClosed);
}

TEST_CASE("close sends close_notify, and a stream cut without it reads as truncated") {
  auto [client, server] = tls_pair();
  client->write_all(bytes_of("abc"));
  SUBCASE("close") {
    client->close();
    CHECK(read_string(*server, 3) == "abc");
    try {
      read_string(*server, 1);
      FAIL("read after close_notify did not throw");
    } catch (const ConnectionClosed& error) {
      INFO(std::string(error.what()));
      CHECK(contains(error.what(), "connection closed by peer (tcp 127.0.0.1:"));
      CHECK_FALSE(contains(error.what(), "close_notify"));
    }
  }
  SUBCASE("cut") {
    // The TCP connection ends under TLS's feet: no close_notify.
    REQUIRE(::shutdown(client->native_handle(), SHUT_RDWR) == 0);
    CHECK(read_string(*server, 3) == "abc");
    try {
      read_string(*server, 1);
      FAIL("read of a truncated stream did not throw");
    } catch (const ConnectionClosed& error) {
      INFO(std::string(error.what()));
      CHECK(contains(error.what(), "without TLS close_notify"));
      CHECK(contains(error.what(), "truncated"));
    }
  }
}

TEST_CASE(
    "writing to a TLS peer that has gone throws ConnectionClosed instead of raising SIGPIPE") {
  // A SIGPIPE at its default disposition ends this process: the test fails by dying.
  const bool default_disposition = std::signal(SIGPIPE, SIG_DFL) != SIG_ERR;
  REQUIRE(default_disposition);
  auto [client, server] = tls_pair();
  server.reset();
  const std::vector<std::uint8_t> chunk(65536, 7);
  try {
    for (int i = 0; i < 1000; ++i) client->write_all(chunk);
    FAIL("writing to a closed peer did not throw");
  } catch (const ConnectionClosed& error) {
    INFO(std::string(error.what()));
    const std::string message = error.what();
    CHECK((contains(message, "reset by peer") || contains(message, "closed by peer")));
    CHECK(contains(message, "tcp 127.0.0.1:"));
  }
}

TEST_CASE("a TLS writer whose peer does not read gives up after the write timeout") {
  auto [client, server] = tls_pair();
  client->set_write_timeout(200ms);
  const std::vector<std::uint8_t> chunk(65536, 1);
  const auto start = clock_type::now();
  try {
    for (int i = 0; i < 100000; ++i) client->write_all(chunk);
    FAIL("the stalled write did not throw");
  } catch (const ConnectionClosed& error) {
    INFO(std::string(error.what()));
    CHECK(contains(error.what(), "write stalled for 200 ms: the peer is not reading"));
  }
  CHECK(clock_type::now() - start < 10s);
  CHECK(client->closed());
}

// =========================================================================================
// Contexts

TEST_CASE("a TLS context that cannot load its certificate, key or CAs says which") {
  SUBCASE("missing certificate file") {
    TlsServerOptions options = server_options();
    options.certificate = Pem::file("/nonexistent/netref/server.pem");
    try {
      TlsContext::server(options);
      FAIL("no error");
    } catch (const Error& error) {
      INFO(std::string(error.what()));
      CHECK(contains(error.what(), "TLS certificate from file /nonexistent/netref/server.pem"));
    }
  }
  SUBCASE("broken PEM text") {
    TlsServerOptions options = server_options();
    options.certificate =
        Pem::memory("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    try {
      TlsContext::server(options);
      FAIL("no error");
    } catch (const Error& error) {
      INFO(std::string(error.what()));
      CHECK(contains(error.what(), "TLS certificate from PEM text (-----BEGIN CERTIFICATE-----)"));
    }
  }
  SUBCASE("a key of another certificate") {
    TlsServerOptions options = server_options();
    options.private_key = key("server-b");
    try {
      TlsContext::server(options);
      FAIL("no error");
    } catch (const Error& error) {
      INFO(std::string(error.what()));
      CHECK(contains(error.what(), "does not match the certificate"));
      CHECK(contains(error.what(), "server-b.key"));
    }
  }
  SUBCASE("missing CA file") {
    TlsClientOptions options;
    options.ca = Pem::file("/nonexistent/netref/ca.pem");
    try {
      TlsContext::client(options);
      FAIL("no error");
    } catch (const Error& error) {
      INFO(std::string(error.what()));
      CHECK(contains(error.what(), "CA certificates from file /nonexistent/netref/ca.pem"));
    }
  }
  SUBCASE("a required client certificate with no CA to check it") {
    TlsServerOptions options = server_options();
    options.require_client_certificate = true;
    CHECK_THROWS_AS(TlsContext::server(options), Error);
  }
  SUBCASE("a server without a certificate") {
    CHECK_THROWS_AS(TlsContext::server(TlsServerOptions{}), Error);
  }
}

TEST_CASE("connect_tls and accept_tls refuse a context made for the other side") {
  const auto server_context = TlsContext::server(server_options());
  const auto client_context = TlsContext::client(client_options());
  CHECK(server_context.is_server());
  CHECK_FALSE(client_context.is_server());
  CHECK_THROWS_AS(connect_tls("127.0.0.1", 1, server_context), Error);
  auto listener = listen_tcp("127.0.0.1", 0);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto plain = connect_tcp("127.0.0.1", listener->port());
  CHECK_THROWS_AS(accept_tls(accepted.get(), client_context), Error);
}

// =========================================================================================
// Failures (docs/FAULTS.md section J)

TEST_CASE("J1: a server certificate from an untrusted CA fails the client's handshake") {
  OneShotServer server(TlsContext::server(server_options("server-b")));
  const Refusal refusal = refused_connect(server.port(), client_options("ca-a"));
  INFO(refusal.message);
  CHECK(refusal.message == "cannot connect to 127.0.0.1:" + std::to_string(server.port()) +
                               ": TLS handshake failed: certificate verify failed (unable to "
                               "get local issuer certificate)");
  CHECK(refusal.took < 2s);
  const Accepted accepted = server.get();
  INFO(accepted.error);
  CHECK(accepted.stream == nullptr);
  CHECK(contains(accepted.error, "TLS handshake with tcp 127.0.0.1:"));
  CHECK(contains(accepted.error, "alert unknown ca"));
}

TEST_CASE("J2: an expired or not yet valid server certificate fails verification") {
  std::string name, reason;
  SUBCASE("expired") {
    name = "server-expired";
    reason = "certificate verify failed (certificate has expired)";
  }
  SUBCASE("not yet valid") {
    name = "server-future";
    reason = "certificate verify failed (certificate is not yet valid)";
  }
  OneShotServer server(TlsContext::server(server_options(name)));
  const Refusal refusal = refused_connect(server.port(), client_options());
  INFO(refusal.message);
  CHECK(contains(refusal.message, "TLS handshake failed: " + reason));
  CHECK(refusal.took < 2s);
  CHECK(server.get().stream == nullptr);
}

TEST_CASE("J3: a certificate for another host fails verification") {
  OneShotServer server(TlsContext::server(server_options("server-otherhost")));
  std::string host, reason;
  SUBCASE("by name") {
    host = "localhost";
    reason = "certificate verify failed (hostname mismatch)";
  }
  SUBCASE("by address") {
    host = "127.0.0.1";
    reason = "certificate verify failed (IP address mismatch)";
  }
  const Refusal refusal = refused_connect(server.port(), client_options(), host);
  INFO(refusal.message);
  CHECK(contains(refusal.message, "cannot connect to " + host + ":"));
  CHECK(contains(refusal.message, reason));
  CHECK(refusal.took < 2s);
}

TEST_CASE("J4: a server requiring client certificates refuses a missing, foreign or expired one") {
  std::string identity, reason;
  SUBCASE("none") { reason = "peer did not return a certificate"; }
  SUBCASE("from another CA") {
    identity = "client-b";
    reason = "certificate verify failed (unable to get local issuer certificate)";
  }
  SUBCASE("expired") {
    identity = "client-expired";
    reason = "certificate verify failed (certificate has expired)";
  }
  OneShotServer server(TlsContext::server(mtls_server_options()));
  // With TLS 1.3 the client is done before the server has judged its certificate: the
  // refusal reaches it as an alert on its first read.
  StreamPtr client;
  std::string client_error;
  try {
    client = connect_tls("127.0.0.1", server.port(),
                         TlsContext::client(client_options("ca-a", identity)), 5s);
  } catch (const ConnectError& error) {
    client_error = error.what();
  }
  const Accepted accepted = server.get();
  INFO(accepted.error);
  CHECK(accepted.stream == nullptr);
  CHECK(contains(accepted.error, "TLS handshake with tcp 127.0.0.1:"));
  CHECK(contains(accepted.error, "failed: " + reason));
  CHECK(accepted.took < 2s);
  if (client) {
    try {
      read_string(*client, 1);
      FAIL("the refused client could read");
    } catch (const ConnectionClosed& error) {
      client_error = error.what();
    }
  }
  CHECK(contains(client_error, "alert"));
}

TEST_CASE("J5: plaintext sent to a TLS port fails the server's handshake at once") {
  std::vector<std::uint8_t> bytes;
  std::string reason;
  SUBCASE("an RPyC frame") {
    // RPyC's framing: 4-byte length, compression flag, then the brine payload.
    bytes = {0x00, 0x00, 0x00, 0x0b, 0x00, 0x0e, 0x01, 0x01,
             0x0e, 0x02, 0x14, 0x01, 0x0d, 0x00, 0x0a};
    reason = "wrong version number";
  }
  SUBCASE("an HTTP request") {
    bytes = bytes_of("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    reason = "http request";
  }
  OneShotServer server(TlsContext::server(server_options()));
  auto raw = connect_tcp("127.0.0.1", server.port());
  raw->write_all(bytes);
  const Accepted accepted = server.get();
  INFO(accepted.error);
  CHECK(accepted.stream == nullptr);
  CHECK(contains(accepted.error, "TLS handshake with tcp 127.0.0.1:"));
  CHECK(contains(accepted.error, "failed: " + reason));
  CHECK(accepted.took < 1s);
  CHECK(ends_within(*raw, 1000ms));  // and the server hung up
}

TEST_CASE("J6: a TLS client to a plaintext port fails within its timeout") {
  auto listener = listen_tcp("127.0.0.1", 0);
  const std::string where = "cannot connect to 127.0.0.1:" + std::to_string(listener->port());
  SUBCASE("the server says nothing") {
    auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
    const Refusal refusal = refused_connect(listener->port(), client_options(), "127.0.0.1", 300ms);
    INFO(refusal.message);
    CHECK(contains(refusal.message, where + ": timed out after 300 ms"));
    CHECK(refusal.took >= 250ms);
    CHECK(refusal.took < 1500ms);
    CHECK(accepted.get() != nullptr);  // kept open until the client gave up
  }
  SUBCASE("the server answers with an RPyC frame") {
    auto accepted = std::async(std::launch::async, [&] {
      auto plain = listener->accept();
      const std::vector<std::uint8_t> frame = {0x00, 0x00, 0x00, 0x02, 0x00, 0x0e, 0x0a};
      plain->write_all(frame);
      return plain;
    });
    const Refusal refusal = refused_connect(listener->port(), client_options(), "127.0.0.1", 5s);
    INFO(refusal.message);
    CHECK(contains(refusal.message, where + ": TLS handshake failed: wrong version number"));
    CHECK(refusal.took < 1s);
    CHECK(accepted.get() != nullptr);
  }
  SUBCASE("the server hangs up") {
    auto accepted = std::async(std::launch::async, [&] { listener->accept().reset(); });
    const Refusal refusal = refused_connect(listener->port(), client_options(), "127.0.0.1", 5s);
    INFO(refusal.message);
    CHECK(contains(refusal.message, where + ": TLS handshake failed: "));
    CHECK(refusal.took < 1s);
    accepted.get();
  }
}

TEST_CASE("J7: a peer that sends part of a ClientHello and stalls times the handshake out") {
  const auto context = TlsContext::server(server_options());
  auto listener = listen_tcp("127.0.0.1", 0);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto raw = connect_tcp("127.0.0.1", listener->port());
  auto tls = accept_tls(accepted.get(), context);
  CHECK(tls->handshake_step() == HandshakeStep::want_read);  // nothing sent yet
  raw->write_all(kClientHelloStart);
  CHECK(tls->handshake_step() == HandshakeStep::want_read);  // a part is not enough
  const auto start = clock_type::now();
  try {
    tls->handshake(200ms);
    FAIL("the stalled handshake did not time out");
  } catch (const Timeout& error) {
    INFO(std::string(error.what()));
    CHECK(contains(error.what(), "TLS handshake with tcp 127.0.0.1:"));
    CHECK(contains(error.what(), "timed out after 200 ms"));
  }
  const auto took = clock_type::now() - start;
  CHECK(took >= 200ms);
  CHECK(took < 1s);
  CHECK(tls->protocol_version().empty());
}

TEST_CASE("J9: a TLS 1.1 client is refused") {
  SUBCASE("openssl s_client -tls1_1") {
    OneShotServer server(TlsContext::server(server_options()));
    const CommandResult command = run_command(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port()), "-tls1_1",
         "-cipher", "DEFAULT@SECLEVEL=0"},
        10s);
    if (!command.started || contains(command.output, "no protocols available") ||
        contains(command.output, "unknown option")) {
      MESSAGE("skipped: this openssl CLI cannot offer TLS 1.1: " << command.output);
      return;
    }
    const Accepted accepted = server.get();
    INFO(accepted.error);
    CHECK(accepted.stream == nullptr);
    CHECK(contains(accepted.error, "failed: unsupported protocol"));
    CHECK(contains(command.output, "alert protocol version"));
  }
  SUBCASE("a TLS 1.1 OpenSSL client") {
    OneShotServer server(TlsContext::server(server_options()));
    RawTlsClient client(server.port(), TLS1_VERSION, TLS1_1_VERSION);
    CHECK_FALSE(client.connect());
    CHECK(RawTlsClient::error() == "tlsv1 alert protocol version");
    const Accepted accepted = server.get();
    INFO(accepted.error);
    CHECK(accepted.stream == nullptr);
    CHECK(contains(accepted.error, "failed: unsupported protocol"));
  }
}

TEST_CASE("J9: renegotiation is refused in both directions") {
  // Reads a TLS stream until it ends; its error message.
  auto read_to_end = [](Stream& stream) -> std::string {
    std::vector<std::uint8_t> buffer(64);
    try {
      for (;;) {
        if (stream.read_available(buffer) == 0) stream.poll(-1ms);
      }
    } catch (const ConnectionClosed& error) {
      return error.what();
    }
  };
  SUBCASE("a client asks our server") {
    OneShotServer server(TlsContext::server(server_options()));
    RawTlsClient client(server.port(), TLS1_2_VERSION, TLS1_2_VERSION);
    REQUIRE(client.connect());
    Accepted accepted = server.get();
    REQUIRE(accepted.stream != nullptr);
    TlsStream& tls = *accepted.stream;
    CHECK(tls.protocol_version() == "TLSv1.2");
    // Our server sees the new ClientHello, and refuses it, inside its reads.
    auto reader = std::async(std::launch::async, [&] { return read_to_end(tls); });
    REQUIRE(SSL_renegotiate(client.ssl) == 1);
    CHECK(SSL_do_handshake(client.ssl) <= 0);
    CHECK(RawTlsClient::error() == "no renegotiation");
    if (reader.wait_for(5s) != std::future_status::ready) tls.close();  // unblock, then fail
    const std::string server_error = reader.get();
    INFO(server_error);
    CHECK(contains(server_error, "alert handshake failure"));
  }
  SUBCASE("a server asks our client") {
    RawTlsServer server(TLS1_2_VERSION);
    auto accepted = std::async(std::launch::async, [&] { return server.accept(); });
    auto client = connect_tls("127.0.0.1", server.port(), TlsContext::client(client_options()), 5s);
    REQUIRE(accepted.get());
    // Our client sees the HelloRequest, and refuses it, inside its reads.
    auto reader = std::async(std::launch::async, [&] { return read_to_end(*client); });
    auto asked = std::async(std::launch::async, [&] {
      const bool requested = SSL_renegotiate(server.ssl) == 1 && SSL_do_handshake(server.ssl) == 1;
      char byte;
      const int rc = SSL_read(server.ssl, &byte, 1);  // the client's answer
      return std::make_pair(requested && rc <= 0, RawTlsClient::error());
    });
    if (asked.wait_for(5s) != std::future_status::ready) {
      ::shutdown(server.tcp->native_handle(), SHUT_RDWR);  // unblock, then fail
    }
    const auto [refused, reason] = asked.get();
    CHECK(refused);
    CHECK(reason == "no renegotiation");
    if (reader.wait_for(5s) != std::future_status::ready) client->close();
    const std::string client_error = reader.get();
    INFO(client_error);
    CHECK(contains(client_error, "alert handshake failure"));
  }
}

TEST_CASE("a TLS 1.3 key update the peer requests is answered while reading") {
  OneShotServer server(TlsContext::server(server_options()));
  RawTlsClient client(server.port(), TLS1_3_VERSION, TLS1_3_VERSION);
  // Count the KeyUpdate messages the client receives: one answer per request.
  static int key_updates_received = 0;
  key_updates_received = 0;
  SSL_set_msg_callback(client.ssl, [](int write_p, int, int content_type, const void* buf,
                                      std::size_t len, SSL*, void*) {
    if (write_p == 0 && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
        static_cast<const unsigned char*>(buf)[0] == SSL3_MT_KEY_UPDATE) {
      ++key_updates_received;
    }
  });
  REQUIRE(client.connect());
  Accepted accepted = server.get();
  REQUIRE(accepted.stream != nullptr);
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    REQUIRE(SSL_key_update(client.ssl, SSL_KEY_UPDATE_REQUESTED) == 1);
    REQUIRE(SSL_write(client.ssl, "ping", 4) == 4);
    CHECK(read_string(*accepted.stream, 4) == "ping");
    accepted.stream->write_all(bytes_of("pong"));
    char reply[4];
    REQUIRE(SSL_read(client.ssl, reply, 4) == 4);
    CHECK(std::string(reply, 4) == "pong");
  }
  CHECK(key_updates_received == kRounds);
}
