// BackgroundServingThread: one loop of serve() with a short interval so stop() is prompt.
#include "netref/service/background_serving.hpp"

namespace netref {

BackgroundServingThread::BackgroundServingThread(ConnectionPtr conn, bool start_now) : conn_(std::move(conn)) {
  if (start_now) start();
}

BackgroundServingThread::~BackgroundServingThread() { stop(); }

void BackgroundServingThread::start() {
  std::lock_guard lk(mutex_);
  if (running_.load(std::memory_order_acquire)) return;
  if (thread_.joinable()) thread_.join();  // a previous run that ended by itself
  stopping_.store(false, std::memory_order_release);
  running_.store(true, std::memory_order_release);
  thread_ = std::thread([this] {
    try {
      while (!stopping_.load(std::memory_order_acquire) && !conn_->closed()) {
        conn_->serve(std::chrono::milliseconds(50));
      }
    } catch (const Error&) {
      // closed: nothing left to serve
    }
    running_.store(false, std::memory_order_release);
  });
}

void BackgroundServingThread::stop() {
  stopping_.store(true, std::memory_order_release);
  std::lock_guard lk(mutex_);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace netref
