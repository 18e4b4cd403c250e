#pragma once
// A Stream whose incoming bytes follow a script: they arrive in the chunks the fuzzer chose,
// a stall makes a read or a poll with a finite timeout report "nothing yet", and running out
// of script is EOF. What is written to it is kept. One thread, no clock: every run of an
// input behaves the same, which libFuzzer needs to reproduce what it finds.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "netref/stream/stream.hpp"

namespace netref::fuzz {

class ScriptedStream final : public Stream {
 public:
  /// How the end of the script reads.
  enum class End {
    eof,   ///< EOF at once: reads throw ConnectionClosed (the peer hung up)
    idle,  ///< a zero-timeout poll and a read see nothing yet (more may be appended); a wait
           ///< with a timeout sees EOF, so nothing ever waits for real
  };

  explicit ScriptedStream(End end = End::eof) : end_(end) {}

  /// Appends bytes that arrive together (a read returns at most what is left of one chunk).
  void add_chunk(std::span<const std::uint8_t> bytes) {
    if (!bytes.empty()) steps_.push_back(Step{std::vector<std::uint8_t>(bytes.begin(), bytes.end()), 0});
  }
  /// Appends a stall: the next `answers` reads or finite polls report nothing.
  void add_stall(unsigned answers) { steps_.push_back(Step{{}, answers}); }

  /// Everything written to the stream so far (the peer's view), bounded by write_cap.
  std::vector<std::uint8_t>& written() noexcept { return written_; }
  /// Bytes written beyond what written() keeps.
  std::size_t written_dropped() const noexcept { return dropped_; }
  void set_write_cap(std::size_t cap) noexcept { write_cap_ = cap; }

  /// Reads and polls so far: a whole buffered frame must be taken without touching the stream.
  std::uint64_t touches() const noexcept { return touches_; }
  /// Called at every read and poll, before it: a harness checks invariants from inside the
  /// reader's waits.
  std::function<void()> on_touch;
  /// Script bytes read so far.
  std::size_t delivered() const noexcept { return delivered_; }
  /// True once the script ran out and a wait or a read saw EOF.
  bool saw_eof() const noexcept { return eof_; }
  /// Script bytes not read yet.
  std::size_t unread() const noexcept {
    std::size_t n = 0;
    for (const auto& s : steps_) n += s.bytes.size();
    return n - offset_;
  }

  std::size_t read_available(std::span<std::uint8_t> buffer) override {
    touch();
    if (closed_) throw ConnectionClosed("connection closed locally (scripted)");
    drop_spent();
    if (steps_.empty()) {
      if (end_ == End::eof || eof_) {
        eof_ = true;
        throw ConnectionClosed("connection closed by peer (end of script)");
      }
      return 0;
    }
    Step& step = steps_.front();
    if (step.stall > 0) {
      --step.stall;
      return 0;
    }
    const std::size_t n = std::min(buffer.size(), step.bytes.size() - offset_);
    std::memcpy(buffer.data(), step.bytes.data() + offset_, n);
    offset_ += n;
    delivered_ += n;
    return n;
  }

  void write_all(std::span<const std::span<const std::uint8_t>> pieces) override {
    if (closed_) throw ConnectionClosed("connection closed locally (scripted)");
    for (const auto& piece : pieces) {
      const std::size_t keep = std::min(piece.size(), write_cap_ - std::min(write_cap_, written_.size()));
      written_.insert(written_.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(keep));
      dropped_ += piece.size() - keep;
    }
  }

  bool poll(std::chrono::milliseconds timeout) override {
    touch();
    if (closed_) throw ConnectionClosed("connection closed locally (scripted)");
    drop_spent();
    if (!steps_.empty()) {
      Step& step = steps_.front();
      if (step.stall == 0) return true;
      if (timeout.count() >= 0) {
        --step.stall;
        return false;
      }
      step.stall = 0;  // a wait without a timeout outlasts any stall
      return true;
    }
    if (end_ == End::idle && !eof_ && timeout.count() == 0) return false;
    eof_ = true;  // the next read throws
    return true;
  }

  void close() noexcept override { closed_ = true; }
  bool closed() const noexcept override { return closed_; }
  std::string peer_name() const override { return "scripted"; }

 private:
  struct Step {
    std::vector<std::uint8_t> bytes;
    unsigned stall = 0;
  };

  void touch() {
    ++touches_;
    if (on_touch) on_touch();
  }

  void drop_spent() {
    while (!steps_.empty() && steps_.front().stall == 0 && offset_ == steps_.front().bytes.size()) {
      steps_.pop_front();
      offset_ = 0;
    }
  }

  End end_;
  std::deque<Step> steps_;
  std::size_t offset_ = 0;  // bytes of steps_.front() already read
  std::vector<std::uint8_t> written_;
  std::size_t write_cap_ = 64u << 20;
  std::size_t dropped_ = 0;
  std::uint64_t touches_ = 0;
  std::size_t delivered_ = 0;
  bool eof_ = false;
  bool closed_ = false;
};

}  // namespace netref::fuzz
