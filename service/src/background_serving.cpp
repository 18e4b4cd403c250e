// BackgroundServingThread: one loop of serve() with a short interval so stop() is prompt.
#include "netref/service/background_serving.hpp"

namespace netref {

BackgroundServingThread::BackgroundServingThread(ConnectionPtr conn) : conn_(std::move(conn)) {
  thread_ = std::thread([this] {
    try {
      while (!stopping_.load(std::memory_order_acquire) && !conn_->closed()) {
        conn_->serve(std::chrono::milliseconds(50));
      }
    } catch (const Error&) {
      // closed: nothing left to serve
    }
  });
}

BackgroundServingThread::~BackgroundServingThread() { stop(); }

void BackgroundServingThread::stop() {
  stopping_.store(true, std::memory_order_release);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace netref
