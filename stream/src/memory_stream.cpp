// An in-memory stream pair: two byte queues under one mutex and condition variable.
#include "netref/stream/memory_stream.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace netref {
namespace {

// Bytes written by one end and not yet read by the other. Consumed bytes are dropped from
// the front once they are the larger part, so the queue never grows without bound.
struct ByteQueue {
  std::vector<std::uint8_t> bytes;
  std::size_t head = 0;

  std::size_t size() const { return bytes.size() - head; }

  void push(std::span<const std::uint8_t> piece) {
    if (head > 0 && head >= bytes.size() / 2) {
      bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
    bytes.insert(bytes.end(), piece.begin(), piece.end());
  }

  std::size_t pop(std::uint8_t* out, std::size_t want) {
    const std::size_t n = std::min(want, size());
    if (n > 0) std::memcpy(out, bytes.data() + head, n);
    head += n;
    if (head == bytes.size()) {
      bytes.clear();
      head = 0;
    }
    return n;
  }
};

// State shared by both ends: inbox[i] holds what end i reads; closed[i] is set by end i.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  ByteQueue inbox[2];
  bool closed[2] = {false, false};
};

class MemoryStream final : public Stream {
 public:
  MemoryStream(std::shared_ptr<Shared> shared, int side)
      : shared_(std::move(shared)), me_(side), peer_(1 - side) {}

  ~MemoryStream() override { close(); }

  std::size_t read_available(std::span<std::uint8_t> buffer) override {
    std::lock_guard lock(shared_->mutex);
    if (shared_->closed[me_]) throw ConnectionClosed("connection closed locally (memory)");
    const std::size_t n = shared_->inbox[me_].pop(buffer.data(), buffer.size());
    if (n == 0 && !buffer.empty() && shared_->closed[peer_]) {
      throw ConnectionClosed("connection closed by peer (memory)");
    }
    return n;
  }

  void write_all(std::span<const std::span<const std::uint8_t>> pieces) override {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->closed[me_]) throw ConnectionClosed("connection closed locally (memory)");
      if (shared_->closed[peer_]) throw ConnectionClosed("connection closed by peer (memory)");
      for (const auto& piece : pieces) shared_->inbox[peer_].push(piece);
    }
    shared_->changed.notify_all();
  }

  bool poll(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(shared_->mutex);
    const auto ready = [&] {
      return shared_->closed[me_] || shared_->closed[peer_] || shared_->inbox[me_].size() > 0;
    };
    bool result = true;
    if (timeout.count() < 0) {
      shared_->changed.wait(lock, ready);
    } else {
      result = shared_->changed.wait_for(lock, timeout, ready);
    }
    if (shared_->closed[me_]) throw ConnectionClosed("connection closed locally (memory)");
    return result;
  }

  void close() noexcept override {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->closed[me_]) return;
      shared_->closed[me_] = true;
    }
    shared_->changed.notify_all();
  }

  bool closed() const noexcept override {
    std::lock_guard lock(shared_->mutex);
    return shared_->closed[me_];
  }

  std::string peer_name() const override { return "memory"; }

 private:
  std::shared_ptr<Shared> shared_;
  const int me_;
  const int peer_;
};

}  // namespace

std::pair<StreamPtr, StreamPtr> make_memory_pair() {
  auto shared = std::make_shared<Shared>();
  return {std::make_unique<MemoryStream>(shared, 0), std::make_unique<MemoryStream>(shared, 1)};
}

}  // namespace netref
