#pragma once
// Helpers for the etcd tests: real etcd members (Debian's /usr/bin/etcd) on free loopback
// ports in a temporary directory, started and killed by PID; and fake members that answer
// garbage or nothing.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "discovery/registry_lab.hpp"
#include "netref/etcd/etcd.hpp"
#include "tls/certs.hpp"

extern char** environ;

namespace netref::test {

inline constexpr const char* etcd_program = "/usr/bin/etcd";

/// Ends the test case, reported skipped by ctest, when Debian's etcd-server is not installed.
#define NETREF_REQUIRE_ETCD()                                                                   \
  do {                                                                                          \
    if (::access(::netref::test::etcd_program, X_OK) != 0) {                                    \
      MESSAGE("SKIP: no etcd at /usr/bin/etcd (apt-get install etcd-server)");                  \
      return;                                                                                   \
    }                                                                                           \
  } while (false)

/// A TCP port free on 127.0.0.1 a moment ago (the kernel picks it; etcd binds it next).
inline std::uint16_t free_port() {
  RawSocket probe(SOCK_STREAM, "127.0.0.1");
  return probe.port();
}

/// A cluster of etcd members, each its own process on free loopback ports with its data
/// in a temporary directory removed at the end. Members start together (a cluster needs a
/// quorum to answer) and are killed with SIGKILL by PID.
class EtcdCluster {
 public:
  struct Options {
    std::size_t members = 1;
    bool tls = false;               ///< serve clients over TLS (server-a, signed by ca-a)
    bool client_cert_auth = false;  ///< and require a client certificate signed by ca-a
    bool start = true;              ///< false: ports chosen, nothing started (start_all later)
  };

  explicit EtcdCluster(Options options) : options_(options) {
    char path[] = "/tmp/netref-etcd-XXXXXX";
    if (!::mkdtemp(path)) throw std::runtime_error("mkdtemp failed");
    dir_ = path;
    try {
      if (options_.tls) make_server_certificate();
      for (std::size_t i = 0; i < options_.members; ++i) {
        members_.push_back({"m" + std::to_string(i), free_port(), free_port(), -1});
      }
      if (options_.start) start_all();
    } catch (...) {  // e.g. a member never got ready: the destructor will not run, so end them here
      stop_all();
      throw;
    }
  }
  EtcdCluster() : EtcdCluster(Options{}) {}
  ~EtcdCluster() { stop_all(); }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  std::string endpoint(std::size_t i) const {
    return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(members_[i].client_port);
  }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < members_.size(); ++i) out.push_back(endpoint(i));
    return out;
  }
  /// A client config for every member, with the short timeouts tests want.
  EtcdConfig config() const {
    EtcdConfig c;
    c.endpoints = endpoints();
    c.connect_timeout = std::chrono::milliseconds(500);
    c.request_timeout = std::chrono::milliseconds(1500);
    if (options_.tls) c.ca_file = (cert_dir() / "ca-a.pem").string();
    if (options_.client_cert_auth) {
      c.cert_file = (cert_dir() / "client-alice.pem").string();
      c.key_file = (cert_dir() / "client-alice.key").string();
    }
    return c;
  }

  /// Starts every member, then waits until each answers.
  void start_all() {
    for (std::size_t i = 0; i < members_.size(); ++i) start(i);
    for (std::size_t i = 0; i < members_.size(); ++i) wait_ready(i);
  }

  /// Starts member i (again: with the data it had, unless wipe(i) removed it).
  void start(std::size_t i) {
    auto& m = members_[i];
    const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
    std::string cluster;
    for (const auto& other : members_) {
      cluster += (cluster.empty() ? "" : ",") + other.name + "=http://127.0.0.1:" + std::to_string(other.peer_port);
    }
    std::vector<std::string> args = {etcd_program, "--name", m.name, "--data-dir", data_dir(i),
                                     "--listen-client-urls", endpoint(i), "--advertise-client-urls", endpoint(i),
                                     "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                     "--initial-cluster", cluster, "--initial-cluster-state", "new",
                                     "--initial-cluster-token", "netref-test",
                                     // quick elections, so a cluster is ready soon and a 1 s lease is allowed
                                     "--heartbeat-interval", "100", "--election-timeout", "500",
                                     "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn"};
    if (options_.tls) {
      args.insert(args.end(), {"--cert-file", dir_ + "/etcd.pem", "--key-file", dir_ + "/etcd.key"});
    }
    if (options_.client_cert_auth) {
      args.insert(args.end(), {"--client-cert-auth", "--trusted-ca-file", (cert_dir() / "ca-a.pem").string()});
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = log_path(i);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, etcd_program, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("could not start etcd");
    m.pid = pid;
  }

  /// Waits until member i answers a range (which needs the cluster's quorum), at most 20 s.
  void wait_ready(std::size_t i) {
    EtcdConfig probe = config();
    probe.endpoints = {endpoint(i)};
    probe.connect_timeout = std::chrono::milliseconds(200);
    probe.request_timeout = std::chrono::milliseconds(500);
    EtcdClient client(probe);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      try {
        client.range("netref-test/ready");
        return;
      } catch (const DiscoveryError&) {
      }
      int status = 0;
      if (::waitpid(members_[i].pid, &status, WNOHANG) == members_[i].pid) {
        members_[i].pid = -1;
        FAIL("etcd member " << i << " exited at start:\n" << read_log(i));
      }
      if (std::chrono::steady_clock::now() >= deadline) FAIL("etcd member " << i << " not ready in 20 s:\n" << read_log(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  /// SIGKILL to member i, by its PID, and reaps it.
  void kill(std::size_t i) {
    auto& m = members_[i];
    if (m.pid <= 0) return;
    ::kill(m.pid, SIGKILL);
    ::waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }

  /// Kills every member and removes the directory.
  void stop_all() noexcept {
    for (std::size_t i = 0; i < members_.size(); ++i) kill(i);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// Removes member i's data (it must be stopped): it comes back as a new, empty etcd.
  void wipe(std::size_t i) { std::filesystem::remove_all(data_dir(i)); }

  std::string read_log(std::size_t i) const {
    std::ifstream in(log_path(i));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  struct Member {
    std::string name;
    std::uint16_t client_port;
    std::uint16_t peer_port;
    pid_t pid;
  };
  // etcd's gateway dials its own gRPC port with the server certificate as a client one, so
  // under --client-cert-auth that certificate needs clientAuth as well as serverAuth:
  // etcd.pem (127.0.0.1, both usages), signed by tests/tls's ca-a.
  void make_server_certificate() const {
    const std::string ca = cert_dir().string();
    const std::string script =
        "cd '" + dir_ + "' && "
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out etcd.key 2>/dev/null && "
        "openssl req -new -key etcd.key -subj '/CN=etcd test' -out etcd.csr 2>/dev/null && "
        "printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\n"
        "extendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=IP:127.0.0.1,DNS:localhost\\n' > etcd.ext && "
        "openssl x509 -req -in etcd.csr -CA '" + ca + "/ca-a.pem' -CAkey '" + ca + "/ca-a.key' -CAcreateserial "
        "-CAserial etcd.srl -days 30 -extfile etcd.ext -out etcd.pem 2>/dev/null";
    if (std::system(script.c_str()) != 0) throw std::runtime_error("could not make etcd's certificate with openssl");
  }

  std::string data_dir(std::size_t i) const { return dir_ + "/" + members_[i].name + ".etcd"; }
  std::string log_path(std::size_t i) const { return dir_ + "/" + members_[i].name + ".log"; }

  Options options_;
  std::string dir_;
  std::vector<Member> members_;
};

/// A loopback TCP server posing as an etcd member that misbehaves: it reads each request's
/// head, then answers HTTP with a body that is not JSON, answers bytes that are not HTTP,
/// or never answers (holding the connection open).
class FakeEtcd {
 public:
  enum class Mode { garbage_json, not_http, silent };

  explicit FakeEtcd(Mode mode) : mode_(mode), listener_(SOCK_STREAM, "127.0.0.1") {
    if (::listen(listener_.fd, 16) != 0) throw std::runtime_error("listen failed");
    if (::pipe(stop_) != 0) throw std::runtime_error("pipe failed");
    thread_ = std::thread([this] { run(); });
  }
  ~FakeEtcd() {
    (void)!::write(stop_[1], "x", 1);
    thread_.join();
    for (const auto& c : clients_) ::close(c.fd);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }
  FakeEtcd(const FakeEtcd&) = delete;
  FakeEtcd& operator=(const FakeEtcd&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(listener_.port()); }

 private:
  struct Peer {
    int fd;
    std::string head;
    bool answered;
  };

  void run() {
    for (;;) {
      std::vector<pollfd> fds = {{stop_[0], POLLIN, 0}, {listener_.fd, POLLIN, 0}};
      for (const auto& c : clients_) fds.push_back({c.answered ? -1 : c.fd, POLLIN, 0});  // -1: poll skips it
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents) return;
      if (fds[1].revents & POLLIN) {
        const int fd = ::accept(listener_.fd, nullptr, nullptr);
        if (fd >= 0) clients_.push_back({fd, {}, false});
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        auto& c = clients_[i - 2];
        char buf[4096];
        const auto n = ::read(c.fd, buf, sizeof buf);
        if (n <= 0) {
          c.answered = true;  // gone: leave it until the end
          continue;
        }
        c.head.append(buf, static_cast<std::size_t>(n));
        if (c.head.find("\r\n\r\n") != std::string::npos) answer(c);
      }
    }
  }

  void answer(Peer& c) {
    c.answered = true;
    std::string reply;
    if (mode_ == Mode::garbage_json) {
      reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n<html>oops</";
    } else if (mode_ == Mode::not_http) {
      reply = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x01\x02\x03garbage\r\n\r\n";
    } else {
      return;  // silent: holds the connection, never answers
    }
    (void)!::send(c.fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::shutdown(c.fd, SHUT_WR);
  }

  const Mode mode_;
  RawSocket listener_;
  int stop_[2] = {-1, -1};
  std::vector<Peer> clients_;
  std::thread thread_;
};

/// A service for the servers the tests register.
inline Service adder() {
  Service svc;
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  return svc;
}

}  // namespace netref::test
