#include "netref/etcd/etcd_registrar.hpp"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "gateway_json.hpp"

namespace netref {
namespace {

std::string upper(std::string_view name) {
  std::string out(name);
  for (auto& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string machine_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "127.0.0.1";
  return name;
}

// Keeps the server's keys alive with a lease, from its own thread, so a slow or absent etcd
// never delays the server.
class EtcdRegistrar final : public ServerRegistrar {
 public:
  explicit EtcdRegistrar(EtcdRegistrarConfig config) : config_(std::move(config)) {
    if (config_.names.empty()) throw std::invalid_argument("etcd_registrar: no names to register");
    for (const auto& name : config_.names) {
      if (name.empty() || name.find('/') != std::string::npos) {
        throw std::invalid_argument("etcd_registrar: the name '" + name + "' is empty or has a '/'");
      }
    }
    if (!config_.metadata_json.empty() && !nlohmann::json::accept(config_.metadata_json)) {
      throw std::invalid_argument("etcd_registrar: metadata_json is not JSON: " + detail::excerpt(config_.metadata_json));
    }
    if (config_.ttl.count() <= 0) throw std::invalid_argument("etcd_registrar: ttl must be at least 1 s");
    client_ = std::make_unique<EtcdClient>(config_.etcd);
  }
  ~EtcdRegistrar() override { server_stopping(); }

  void server_started(const ServerEndpoint& endpoint) override {
    std::string host = config_.advertised_host;
    if (host.empty()) host = endpoint.host;
    if (host.empty() || host == "0.0.0.0" || host == "::") host = machine_name();
    const auto port = config_.advertised_port != 0 ? config_.advertised_port : endpoint.port;
    std::lock_guard lk(mutex_);
    if (stopping_ || thread_.joinable()) return;  // one server per registrar: a second start is ignored
    address_ = detail::host_port(host, port);
    value_ = detail::endpoint_json(address_, config_.metadata_json);
    keys_.clear();
    for (const auto& name : config_.names) keys_.push_back(etcd_service_key(name, address_));
    log_ = endpoint.log;
    thread_ = std::thread([this] { run(); });
  }

  void server_stopping() noexcept override {
    {
      std::lock_guard lk(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_all();
    if (!thread_.joinable()) return;
    thread_.join();
    if (lease_ == 0) return;
    try {
      client_->lease_revoke(lease_);  // removes the keys with it
    } catch (const std::exception& e) {
      report(std::string("could not revoke the lease; the keys go when it expires: ") + e.what());
    }
  }

 private:
  // Grants a lease and puts every key with it; the lease is lease_ only once all are in.
  void register_now() {
    const EtcdLease lease = client_->lease_grant(config_.ttl);
    try {
      for (const auto& key : keys_) client_->put(key, value_, lease.id);
    } catch (...) {
      try {
        client_->lease_revoke(lease.id);
      } catch (...) {
        // it expires on its own
      }
      throw;
    }
    lease_ = lease.id;
    renew_every_ = std::max(std::chrono::milliseconds(100), std::chrono::milliseconds(lease.ttl) / 3);
  }

  void run() {
    bool failing = false;
    bool registered_once = false;
    std::unique_lock lk(mutex_);
    while (!stopping_) {
      lk.unlock();
      std::chrono::milliseconds next = config_.retry_interval;
      try {
        if (lease_ == 0) {
          register_now();
          report((registered_once ? "registered again as " : "registered as ") + address_ + " in etcd (lease " +
                 std::to_string(lease_) + ", renewed every " + std::to_string(renew_every_.count()) + " ms)");
          registered_once = true;
          next = renew_every_;
        } else if (client_->lease_keepalive(lease_)) {
          next = renew_every_;
        } else {
          report("etcd no longer has lease " + std::to_string(lease_) + "; registering again");
          lease_ = 0;
          next = std::chrono::milliseconds(0);
        }
        failing = false;
      } catch (const std::exception& e) {
        // Reported once per run of failures, not at every retry.
        if (!failing) report(std::string(lease_ == 0 ? "could not register in etcd: " : "could not renew the lease: ") +
                             e.what() + "; retrying every " + std::to_string(retry_interval().count()) + " ms");
        failing = true;
        next = retry_interval();
      }
      lk.lock();
      wake_.wait_for(lk, next, [this] { return stopping_; });
    }
  }

  std::chrono::milliseconds retry_interval() const {
    return lease_ == 0 ? config_.retry_interval : std::min(config_.retry_interval, renew_every_);
  }

  void report(const std::string& message) const noexcept {
    try {
      if (log_) log_("etcd registrar: " + message);
    } catch (...) {
      // a failing log must not stop the registrar
    }
  }

  const EtcdRegistrarConfig config_;
  std::unique_ptr<EtcdClient> client_;
  // Set by server_started (under mutex_) before the thread starts; read-only afterwards.
  std::string address_;
  std::string value_;
  std::vector<std::string> keys_;
  std::function<void(std::string_view)> log_;
  // The registrar thread's own; read by server_stopping after the join.
  std::int64_t lease_ = 0;
  std::chrono::milliseconds renew_every_{1000};

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_; set once by server_stopping
  std::thread thread_;
};

}  // namespace

std::shared_ptr<ServerRegistrar> etcd_registrar(EtcdRegistrarConfig config) {
  return std::make_shared<EtcdRegistrar>(std::move(config));
}

std::string etcd_service_prefix(std::string_view name) { return "netref/services/" + upper(name) + "/"; }

std::string etcd_service_key(std::string_view name, std::string_view address) {
  return etcd_service_prefix(name) + std::string(address);
}

}  // namespace netref
