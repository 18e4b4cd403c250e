#pragma once
/// A client that outlives its connection (opt-in). When the connection drops it connects
/// again, through a Balancer, to the same instance or another one discovery lists, on the
/// Balancer's backoff; root() then answers from the new connection.
///
///   netref::ReconnectingClient calc(netref::registry_instances("CALCULATOR"),
///                                   {.on_reconnect = [](netref::Proxy root) { resubscribe(root); }});
///   auto sum = calc.root()->attr("add")->call(1, 2).as<std::int64_t>();
///   auto n = calc.call_idempotent([](netref::Proxy root) { return root->attr("size")->call().as<int>(); });
///
/// What is guaranteed (object ids and calls belong to one connection):
/// - a call in flight when the connection drops fails with ConnectionClosed and is never sent
///   again: at most once. call_idempotent() opts a call in to being sent once more, on the
///   new connection;
/// - netrefs and proxies of a replaced connection throw StaleReference, never reach the new
///   instance: take new ones from root() (on_reconnect is the place);
/// - a Timeout is not a drop: the connection stays, and nothing is sent again.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "netref/discovery/balancer.hpp"
#include "netref/export.hpp"
#include "netref/proxy/client.hpp"
#include "netref/service/background_serving.hpp"

namespace netref {

struct NETREF_API ReconnectConfig {
  /// Which instance each connection goes to and how it is made: policy (pick_first), the
  /// backoff of instances that fail to connect (gRPC's: 1 s, x1.6, jitter 0.2, 120 s max),
  /// the ClientConfig (TLS, timeouts, keepalive: balancer.client.connection.keepalive_interval
  /// notices a peer that vanished without closing).
  BalancerConfig balancer;
  /// Serve each connection on a background thread (rpyc's BgServingThread): the server's
  /// callbacks run, and a drop is noticed, and the connection replaced, at once rather than
  /// at the next call. Default on.
  bool serve_in_background = true;
  /// How long root() and call_idempotent() wait for a reconnect in progress before throwing
  /// ServiceUnavailable with the last connect error.
  std::chrono::milliseconds reconnect_wait = std::chrono::seconds(10);
  /// Called after each reconnect (not the first connect) with the new connection's root, on
  /// the reconnecting thread, before root() callers waiting for it go on: re-subscribe
  /// callbacks here, through the root it is given (the client's root() would wait for this
  /// very reconnect). What it throws is logged as a warning and otherwise ignored. It must
  /// not call close().
  std::function<void(Proxy root)> on_reconnect;
  /// Called on the reconnecting thread when a connection drops, with why (for logs).
  std::function<void(const std::string& why)> on_disconnect;
};

/// A connection to some instance of a service, replaced when it drops. Thread-safe; a thread
/// of its own reconnects. Closes on destruction.
class NETREF_API ReconnectingClient {
 public:
  /// Connects at once (Balancer::connect: throws ServiceNotFound, ServiceUnavailable or what
  /// the source throws).
  explicit ReconnectingClient(InstanceSource source, ReconnectConfig config = {});
  ~ReconnectingClient();
  ReconnectingClient(const ReconnectingClient&) = delete;
  ReconnectingClient& operator=(const ReconnectingClient&) = delete;

  /// The current connection's root. While a reconnect is in progress it waits for it (up to
  /// reconnect_wait; then ServiceUnavailable). Throws ConnectionClosed after close().
  Proxy root();
  /// The current connection (waits like root()).
  Client client();

  /// Runs fn(root) and returns what it returns. If the connection drops under it (fn throws
  /// ConnectionClosed), fn runs once more on the next connection: for calls that may safely
  /// run twice (reads, puts of the same value). A second failure, and every other error,
  /// reaches the caller. fn must take what it uses from the root it is given.
  template <class F>
  std::invoke_result_t<F&, Proxy> call_idempotent(F&& fn) {
    const auto [first, used] = current_root(0);
    try {
      return fn(first);
    } catch (const StaleReference&) {
      throw;  // fn used a reference of an older connection: a bug to report, not a drop
    } catch (const ConnectionClosed&) {
      if (closing()) throw;
    }
    return fn(current_root(used).first);
  }

  /// 1 for the first connection, one more for each reconnect.
  std::uint64_t epoch() const;
  /// The instance the current connection reached.
  std::optional<ServiceAddress> instance() const;
  /// False while the connection is down and a reconnect is in progress.
  bool connected() const;
  /// The Balancer choosing instances (its state(): who is backing off).
  const Balancer& balancer() const noexcept { return balancer_; }
  /// Stops reconnecting and closes the connection. Idempotent; not from on_reconnect.
  void close();

 private:
  /// The root of a connection newer than epoch `after` (0: any) and its epoch, waiting for one.
  std::pair<Proxy, std::uint64_t> current_root(std::uint64_t after);
  bool closing() const;
  void install(Client client);
  void run();  // the reconnecting thread
  void dropped(const Connection& conn);
  std::chrono::milliseconds retry_delay(unsigned rounds);

  Balancer balancer_;
  ReconnectConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;      // a drop, a new connection, or close
  std::optional<Client> client_;         // the current connection
  std::unique_ptr<BackgroundServingThread> serving_;
  std::optional<ServiceAddress> instance_;
  std::uint64_t epoch_ = 0;
  bool down_ = false;                    // the current connection dropped; a reconnect is due
  bool closing_ = false;
  std::string last_error_;               // why the last reconnect round failed
  std::minstd_rand random_;              // jitter of retry_delay (the reconnecting thread's)
  std::thread thread_;
};

}  // namespace netref
