#include "netref/discovery/registrar.hpp"

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace netref {
namespace {

// Registers from its own thread, so a slow or absent registry never delays the server.
class RegistryRegistrar final : public ServerRegistrar {
 public:
  explicit RegistryRegistrar(RegistrarConfig config) : config_(std::move(config)) {
    if (config_.aliases.empty()) throw std::invalid_argument("registry_registrar: no aliases to register");
  }
  ~RegistryRegistrar() override { server_stopping(); }

  void server_started(const ServerEndpoint& endpoint) override {
    RegistryConfig registry = config_.registry;
    // rpyc registers from the server's own address (interface=self.host): the registry
    // records the source, so clients are sent to the address the server listens on.
    if (registry.local_host.empty() && endpoint.host != "0.0.0.0" && !endpoint.host.empty()) {
      registry.local_host = endpoint.host;
    }
    std::lock_guard lk(mutex_);
    if (stopping_ || thread_.joinable()) return;  // one server per registrar: a second start is ignored
    port_ = config_.advertised_port != 0 ? config_.advertised_port : endpoint.port;
    log_ = endpoint.log;
    client_ = RegistryClient(registry);
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
    try {
      client_.unregister_service(port_);
    } catch (const std::exception& e) {
      report(std::string("could not unregister from the registry: ") + e.what());
    }
  }

 private:
  void run() {
    bool failing = false;
    std::unique_lock lk(mutex_);
    while (!stopping_) {
      lk.unlock();
      bool registered = false;
      try {
        client_.register_service(config_.aliases, port_);
        registered = true;
        if (failing) report("registered with " + to_string(client_.config()) + " again");
        failing = false;
      } catch (const std::exception& e) {
        // Reported once per run of failures, not every second.
        if (!failing) report(std::string("could not register: ") + e.what() + "; retrying every " +
                             std::to_string(config_.retry_interval.count()) + " ms");
        failing = true;
      }
      lk.lock();
      wake_.wait_for(lk, registered ? config_.reregister_interval : config_.retry_interval, [this] { return stopping_; });
    }
  }

  void report(const std::string& message) const noexcept {
    try {
      if (log_) log_("registrar: " + message);
    } catch (...) {
      // a failing log must not stop the registrar
    }
  }

  const RegistrarConfig config_;
  // Set by server_started (under mutex_) before the thread starts; read-only afterwards.
  RegistryClient client_;
  std::uint16_t port_ = 0;
  std::function<void(std::string_view)> log_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_; set once by server_stopping
  std::thread thread_;
};

}  // namespace

std::shared_ptr<ServerRegistrar> registry_registrar(RegistrarConfig config) {
  return std::make_shared<RegistryRegistrar>(std::move(config));
}

}  // namespace netref
