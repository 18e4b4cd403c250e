#pragma once
/// RegistryServer: an RPyC registry (what Python's rpyc_registry runs, and what the
/// netref_registry program serves). Stock rpyc servers register with it and stock rpyc
/// clients query it, over UDP or TCP, byte for byte as rpyc/utils/registry.py.
///
/// Unlike rpyc's, it is bounded and never stalls: one thread polls every socket; a TCP
/// client has tcp_timeout to send its request and take its reply, and at most
/// max_tcp_clients are open at once; requests past max_packet_bytes and garbage are dropped
/// unanswered and counted; the table is bounded by names and entries and pruned on the
/// server's own clock (rpyc prunes a name only when someone queries it).
#include "netref/export.hpp"
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "netref/discovery/registry_client.hpp"

namespace netref {

struct NETREF_API RegistryServerConfig {
  RegistryTransport transport = RegistryTransport::udp;
  std::string host = "127.0.0.1";          ///< IPv4 address to bind (rpyc_registry binds 0.0.0.0)
  std::uint16_t port = default_registry_port;  ///< 0 picks a free port; ask port()
  /// Entries not refreshed for this long are dropped (rpyc's DEFAULT_PRUNING_TIMEOUT, 240 s;
  /// servers refresh every 60 s).
  std::chrono::milliseconds prune_timeout = std::chrono::seconds(240);
  /// Answer LIST with the names (rpyc_registry --listing); otherwise with None.
  bool allow_listing = false;
  std::size_t max_names = 1024;        ///< distinct names; a REGISTER past it is not acknowledged
  std::size_t max_entries = 4096;      ///< (name, server) pairs in all; likewise
  std::size_t max_name_bytes = 256;    ///< a longer name makes its REGISTER unacknowledged
  /// A request longer than this is dropped (rpyc reads 1500 bytes of one). Replies are cut
  /// to fit this too (QUERY keeps the newest servers), so rpyc's clients can read them.
  std::size_t max_packet_bytes = 1500;
  std::size_t max_tcp_clients = 64;    ///< TCP connections open at once; more are closed at accept
  /// A TCP client must send its request, and take its reply, within this (rpyc's TCP
  /// registry times out after 3 s).
  std::chrono::milliseconds tcp_timeout = std::chrono::seconds(3);
  /// Where registrations, removals and refusals are reported; null: nowhere.
  std::function<void(std::string_view)> log;
};

/// What the registry has done; a snapshot.
struct NETREF_API RegistryServerStats {
  std::uint64_t requests = 0;       ///< well-formed requests served
  std::uint64_t garbage = 0;        ///< requests that were not a registry request, dropped
  std::uint64_t oversized = 0;      ///< requests past max_packet_bytes, dropped
  std::uint64_t refused_registrations = 0;  ///< REGISTERs past a limit (not acknowledged)
  std::uint64_t refused_tcp_clients = 0;    ///< closed at accept: max_tcp_clients open
  std::uint64_t tcp_timeouts = 0;   ///< TCP clients closed for silence past tcp_timeout
  std::uint64_t pruned = 0;         ///< entries dropped for age
  std::size_t names = 0;            ///< names registered now
  std::size_t entries = 0;          ///< (name, server) pairs now
};

class NETREF_API RegistryServer {
 public:
  /// Binds the socket (so port() is known at once). Throws Error naming the address when it
  /// cannot.
  explicit RegistryServer(RegistryServerConfig config = {});
  /// stop().
  ~RegistryServer();
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  /// Serves on a background thread and returns at once.
  void start();
  /// Serves on this thread until stop() is called from another.
  void serve_forever();
  /// Stops serving and closes every socket. Idempotent; any thread but the serving one.
  void stop();

  std::uint16_t port() const noexcept;
  RegistryServerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace netref
