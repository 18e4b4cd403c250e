#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "gateway_json.hpp"
#include "netref/etcd/etcd_discovery.hpp"
#include "netref/etcd/etcd_registrar.hpp"

namespace netref {

struct EtcdServiceWatcher::Impl {
  Impl(std::string name, EtcdConfig etcd, ChangeHandler handler, std::chrono::milliseconds retry)
      : prefix(etcd_service_prefix(name)), client(std::move(etcd)), on_change(std::move(handler)), retry_interval(retry) {}

  // Range, then watch from the revision after it; again whenever the watch ends.
  void run(std::stop_token stop) {
    const std::string end = etcd_prefix_end(prefix);
    while (!stop.stop_requested()) {
      try {
        const EtcdRange range = client.range(prefix, end);
        std::map<std::string, ServiceAddress> fresh;
        for (const auto& kv : range.kvs) {
          if (auto server = detail::parse_endpoint(kv.value)) fresh.emplace(kv.key, std::move(*server));
        }
        replace(std::move(fresh), {});
        client.watch(prefix, end, range.revision + 1, [&](const std::vector<EtcdEvent>& events, std::int64_t) {
          std::map<std::string, ServiceAddress> next;
          {
            std::lock_guard lk(mutex);
            next = servers;
          }
          for (const auto& event : events) {
            std::optional<ServiceAddress> server;
            if (event.type == EtcdEvent::Type::put) server = detail::parse_endpoint(event.kv.value);
            if (server) {
              next.insert_or_assign(event.kv.key, std::move(*server));
            } else {
              next.erase(event.kv.key);
            }
          }
          replace(std::move(next), {});
        }, stop);
      } catch (const std::exception& e) {
        replace(std::nullopt, e.what());
        std::unique_lock lk(mutex);
        retry_cv.wait_for(lk, stop, retry_interval, [] { return false; });
      }
    }
  }

  // Installs a new table (nullopt: keep it) and error text, tells waiters, and calls
  // on_change when the list changed.
  void replace(std::optional<std::map<std::string, ServiceAddress>> fresh, std::string error) {
    std::vector<ServiceAddress> list;
    bool changed = false;
    {
      std::lock_guard lk(mutex);
      last_error = std::move(error);
      if (fresh && *fresh != servers) {
        servers = std::move(*fresh);
        changed = true;
        ++version;
        for (const auto& [key, server] : servers) list.push_back(server);
      }
    }
    changed_cv.notify_all();
    if (changed && on_change) {
      try {
        on_change(list);
      } catch (...) {
        // the handler's failure is its own; the watch goes on
      }
    }
  }

  std::vector<ServiceAddress> snapshot_locked() const {
    std::vector<ServiceAddress> list;
    list.reserve(servers.size());
    for (const auto& [key, server] : servers) list.push_back(server);
    return list;
  }

  const std::string prefix;
  EtcdClient client;
  const ChangeHandler on_change;
  const std::chrono::milliseconds retry_interval;

  mutable std::mutex mutex;
  mutable std::condition_variable changed_cv;
  std::condition_variable_any retry_cv;           // only ever woken by a stop request
  std::map<std::string, ServiceAddress> servers;  // key -> server; guarded by mutex
  std::string last_error;                         // guarded by mutex
  std::uint64_t version = 0;                      // guarded by mutex
  std::jthread thread;                            // last: stopped and joined first
};

EtcdServiceWatcher::EtcdServiceWatcher(std::string name, EtcdConfig etcd, ChangeHandler on_change,
                                       std::chrono::milliseconds retry_interval)
    : impl_(std::make_shared<Impl>(std::move(name), std::move(etcd), std::move(on_change), retry_interval)) {
  impl_->thread = std::jthread([impl = impl_.get()](std::stop_token stop) { impl->run(std::move(stop)); });
}

EtcdServiceWatcher::~EtcdServiceWatcher() {
  impl_->thread.request_stop();
  impl_->thread.join();
}

std::vector<ServiceAddress> EtcdServiceWatcher::instances() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->snapshot_locked();
}

bool EtcdServiceWatcher::wait_until(const std::function<bool(const std::vector<ServiceAddress>&)>& condition,
                                    std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lk(impl_->mutex);
  for (;;) {
    const auto list = impl_->snapshot_locked();
    const auto seen = impl_->version;
    lk.unlock();
    if (condition(list)) return true;
    lk.lock();
    if (!impl_->changed_cv.wait_until(lk, deadline, [&] { return impl_->version != seen; })) return false;
  }
}

std::string EtcdServiceWatcher::last_error() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->last_error;
}

InstanceSource etcd_instances(std::shared_ptr<const EtcdServiceWatcher> watcher) {
  return [watcher = std::move(watcher)] { return watcher->instances(); };
}

}  // namespace netref
