// Fuzz target: the channel's outgoing queue (channel_send.cpp). A Channel writes to a stream
// whose write_some takes as many bytes as the fuzzer says each time (0: the transport is
// full), while the input interleaves enqueue, send_nowait, flush, flush_wait, send and recv
// (a frame arrives and is received, writing what is queued meanwhile). Checked against a
// model that frames each payload the channel accepted, in order:
//  - the bytes written are, at every step, a prefix of the model's frames back to back
//    (framing intact, nothing lost, duplicated or reordered), and all of them once drained;
//    read back through a second Channel they are the payloads sent;
//  - queued_bytes() is always what the model holds minus what was written, and zero (with
//    the buffer budget back to nothing charged) once a flush is done;
//  - what each call returns matches: flush/send_nowait say done exactly when nothing is
//    left, flush_wait and send return with nothing left; writes() counts the writes that
//    carried bytes;
//  - while recv waits it reads the stream only with at most max_send_queue_bytes queued
//    (backpressure), and over a one-frame-per-write stream (TLS) no write spans two frames;
//  - the only exceptions are the documented ones: BudgetExceeded (the queue's memory would
//    pass a small buffer budget), WriteStalled (a zero write_timeout), ConnectionClosed
//    after either closed the stream. A refused frame changes nothing.
//
// Input: byte 0 picks max_send_queue_bytes (bits 0-1), the buffer budget (bits 2-3), the
// write_timeout (bits 4-5), compression above 64 bytes (bit 6) and one frame per write (bit
// 7). Then operations, each led by one byte b, op = b & 7:
//   0 enqueue, 1 send_nowait, 4 send: of a payload described by the next byte p:
//       p>>6 == 0: the next p&63 input bytes; 1: ((p&63)<<8 | next byte) bytes of a pattern;
//       2: ((p&63)+1) KiB of a pattern; 3: ((p&63)+1) * 4 KiB of a pattern, except p == 255:
//       1.5 MiB (past the 1 MiB a drained queue keeps), while the run has queued under 4 MiB
//       in all (a small payload after that);
//   2 flush, 3 flush_wait, 5 recv (a frame of (b>>3) input bytes arrives first);
//   6: the next (b>>3)+1 writes take, for each next byte v, v < 128 ? v : (v-127)*512 bytes;
//   7: the next (b>>3)+1 writes take nothing.
// With no allowance left, a write takes everything it is offered.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "netref/channel/channel.hpp"
#include "scripted_stream.hpp"

namespace {

using netref::fuzz::Input;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMaxQueue[] = {0, 64, 4096, 8u << 20};
constexpr std::size_t kBudget[] = {std::numeric_limits<std::size_t>::max() / 2, 16u << 10, 256u << 10, 2u << 20};
constexpr long long kWriteTimeoutMs[] = {-1, 0, 3'600'000, -1};
constexpr std::size_t kThreshold = 64;
constexpr std::size_t kMaxRunBytes = 4u << 20;
constexpr std::size_t kMaxOps = 2000;

/// A transport whose writes take what the fuzzer allows, and whose input is the frames the
/// harness lets arrive. No clock, no threads: every run of an input behaves the same.
class ThrottledStream final : public netref::Stream {
 public:
  explicit ThrottledStream(bool frame_per_write) : frame_per_write_(frame_per_write) {}

  std::deque<std::size_t> allowances;  // what the next writes take (front first)
  Bytes written;                       // every byte written, in order
  std::uint64_t writes = 0;            // write calls that took at least one byte
  std::deque<std::uint8_t> incoming;   // bytes a read returns
  /// Called with [from, to) of the stream at each write that took bytes, and before each read.
  std::function<void(std::size_t, std::size_t)> on_write;
  std::function<void()> on_read;

  std::size_t read_available(std::span<std::uint8_t> buffer) override {
    if (closed_) throw netref::ConnectionClosed("connection closed locally (throttled)");
    if (on_read) on_read();
    const std::size_t n = std::min(buffer.size(), incoming.size());
    std::copy_n(incoming.begin(), n, buffer.begin());
    incoming.erase(incoming.begin(), incoming.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }

  std::size_t write_some(std::span<const std::span<const std::uint8_t>> pieces) override {
    if (closed_) throw netref::ConnectionClosed("connection closed locally (throttled)");
    std::size_t offered = 0;
    for (const auto& piece : pieces) offered += piece.size();
    std::size_t take = offered;
    if (!allowances.empty()) {
      take = std::min(take, allowances.front());
      allowances.pop_front();
    }
    const std::size_t from = written.size();
    std::size_t left = take;
    for (const auto& piece : pieces) {
      const std::size_t n = std::min(left, piece.size());
      written.insert(written.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(n));
      left -= n;
    }
    if (take != 0) {
      ++writes;
      if (on_write) on_write(from, written.size());
    }
    return take;
  }

  void write_all(std::span<const std::span<const std::uint8_t>> pieces) override {
    NETREF_FUZZ_CHECK(false, "the channel called write_all: only write_some may write");
    (void)pieces;
  }

  Ready wait_ready(bool want_read, bool want_write, std::chrono::milliseconds) override {
    if (closed_) throw netref::ConnectionClosed("connection closed locally (throttled)");
    // Room always seems to come (the next allowance may still be 0, as a racing reader may
    // find); nothing to read ends a wait that wants only input, which would block for ever.
    const bool readable = want_read && !incoming.empty();
    NETREF_FUZZ_CHECK(readable || want_write, "a wait for input with none coming and nothing to write would never end");
    return Ready{readable, want_write};
  }

  bool poll(std::chrono::milliseconds) override {
    if (closed_) throw netref::ConnectionClosed("connection closed locally (throttled)");
    NETREF_FUZZ_CHECK(!incoming.empty(), "a poll for input with none coming would never end");
    return true;
  }

  void close() noexcept override { closed_ = true; }
  bool closed() const noexcept override { return closed_; }
  std::string peer_name() const override { return "throttled"; }
  bool one_frame_per_write() const noexcept override { return frame_per_write_; }

 private:
  bool frame_per_write_;
  bool closed_ = false;
};

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(seed + (i * 31) % 251);
  return out;
}

/// The frame the channel must write for payload: header, body (zlib level 1 above the
/// threshold when compressing), '\n'.
Bytes model_frame(const Bytes& payload, bool compress) {
  Bytes body = payload;
  std::uint8_t flag = 0;
  if (compress && payload.size() > kThreshold) {
    uLongf size = compressBound(static_cast<uLong>(payload.size()));
    body.resize(size);
    NETREF_FUZZ_CHECK(compress2(body.data(), &size, payload.data(), static_cast<uLong>(payload.size()), 1) == Z_OK,
                      "zlib failed in the model");
    body.resize(size);
    flag = 1;
  }
  const auto n = static_cast<std::uint32_t>(body.size());
  Bytes frame(5 + body.size() + 1);
  frame[0] = static_cast<std::uint8_t>(n >> 24);
  frame[1] = static_cast<std::uint8_t>(n >> 16);
  frame[2] = static_cast<std::uint8_t>(n >> 8);
  frame[3] = static_cast<std::uint8_t>(n);
  frame[4] = flag;
  std::copy(body.begin(), body.end(), frame.begin() + 5);
  frame.back() = '\n';
  return frame;
}

struct Model {
  std::vector<Bytes> payloads;  // accepted, in order
  Bytes stream;                 // their frames back to back
  std::vector<std::size_t> ends;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t config = in.u8();
  const std::size_t max_queue = kMaxQueue[config & 3];
  netref::BufferBudget budget(kBudget[(config >> 2) & 3]);
  netref::ChannelConfig cfg;
  cfg.max_send_queue_bytes = max_queue;
  cfg.buffer_budget = &budget;
  cfg.write_timeout = std::chrono::milliseconds(kWriteTimeoutMs[(config >> 4) & 3]);
  cfg.compress = (config & 0x40) != 0;
  cfg.compression_threshold = kThreshold;
  cfg.frame_timeout = std::chrono::milliseconds(-1);
  const bool frame_per_write = (config & 0x80) != 0;

  auto owned = std::make_unique<ThrottledStream>(frame_per_write);
  ThrottledStream& stream = *owned;
  Model model;
  bool in_recv = false;
  std::size_t run_bytes = 0;
  auto channel = std::make_unique<netref::Channel>(std::move(owned), cfg);

  // Writes stay within the model's frames, and over a one-frame-per-write stream within one.
  stream.on_write = [&](std::size_t from, std::size_t to) {
    NETREF_FUZZ_CHECK(to <= model.stream.size(), "wrote " + std::to_string(to) + " bytes, the model has " +
                                                     std::to_string(model.stream.size()));
    NETREF_FUZZ_CHECK(std::equal(stream.written.begin() + static_cast<std::ptrdiff_t>(from), stream.written.end(),
                                 model.stream.begin() + static_cast<std::ptrdiff_t>(from)),
                      "bytes " + std::to_string(from) + ".." + std::to_string(to) + " differ from the model's frames");
    if (frame_per_write) {
      const auto end = std::upper_bound(model.ends.begin(), model.ends.end(), from);
      NETREF_FUZZ_CHECK(end == model.ends.end() || *end >= to,
                        "a write of bytes " + std::to_string(from) + ".." + std::to_string(to) + " spans a frame end at " +
                            std::to_string(end == model.ends.end() ? 0 : *end));
    }
  };
  // Backpressure: recv reads nothing while more than max_send_queue_bytes is queued.
  stream.on_read = [&] {
    if (!in_recv) return;
    NETREF_FUZZ_CHECK(channel->queued_bytes() <= max_queue, "recv read the stream with " +
                                                                std::to_string(channel->queued_bytes()) +
                                                                " bytes queued, over max_send_queue_bytes " +
                                                                std::to_string(max_queue));
  };
  const auto check_accounting = [&] {
    NETREF_FUZZ_CHECK(channel->queued_bytes() == model.stream.size() - stream.written.size(),
                      "queued_bytes() is " + std::to_string(channel->queued_bytes()) + ", the model holds " +
                          std::to_string(model.stream.size() - stream.written.size()) + " unwritten");
    NETREF_FUZZ_CHECK(channel->writes() == stream.writes, "writes() is " + std::to_string(channel->writes()) +
                                                              ", the stream saw " + std::to_string(stream.writes));
  };
  const auto check_drained = [&](const char* after) {
    NETREF_FUZZ_CHECK(channel->queued_bytes() == 0, std::string("bytes left queued after ") + after);
    NETREF_FUZZ_CHECK(stream.written.size() == model.stream.size(), std::string("not everything written after ") + after);
    NETREF_FUZZ_CHECK(budget.in_use() == 0, std::to_string(budget.in_use()) + " bytes of the budget charged after " + after);
  };
  const auto next_payload = [&]() -> Bytes {
    const std::uint8_t p = in.u8();
    switch (p >> 6) {
      case 0: {
        auto b = in.bytes(p & 63u);
        return Bytes(b.begin(), b.end());
      }
      case 1:
        return pattern(((p & 63u) << 8) | in.u8(), p);
      case 2:
        return pattern(((p & 63u) + 1) * 1024, p);
      default: {
        const std::size_t n = p == 255 ? (3u << 19) : ((p & 63u) + 1) * 4096;
        if (run_bytes + n > kMaxRunBytes) return pattern(p & 63u, p);
        return pattern(n, p);
      }
    }
  };

  bool closed = false;
  for (std::size_t op_count = 0; !in.empty() && op_count < kMaxOps && !closed; ++op_count) {
    const std::uint8_t b = in.u8();
    const unsigned op = b & 7u;
    if (op == 6 || op == 7) {
      for (unsigned i = 0; i <= (b >> 3); ++i) {
        const std::uint8_t v = op == 6 ? in.u8() : 0;
        stream.allowances.push_back(v < 128 ? v : (std::size_t{v} - 127) * 512);
      }
      continue;
    }
    // A sending operation puts its frame in the model first (its bytes may be written before
    // it returns) and takes it out again if refused.
    Bytes payload;
    const bool sends = op == 0 || op == 1 || op == 4;
    const std::size_t model_before = model.stream.size();
    if (sends) {
      payload = next_payload();
      run_bytes += payload.size();
      const Bytes frame = model_frame(payload, cfg.compress);
      model.stream.insert(model.stream.end(), frame.begin(), frame.end());
      model.ends.push_back(model.stream.size());
      model.payloads.push_back(payload);
    }
    Bytes arriving;
    if (op == 5) {
      auto body = in.bytes(b >> 3);
      arriving.assign(body.begin(), body.end());
    }
    if (netref::fuzz::trace()) {
      std::fprintf(stderr, "op %u payload %zu queued %zu written %zu allowances %zu\n", op, payload.size(),
                   channel->queued_bytes(), stream.written.size(), stream.allowances.size());
    }
    try {
      switch (op) {
        case 0:
          channel->enqueue(payload);
          break;
        case 1: {
          const auto state = channel->send_nowait(payload);
          NETREF_FUZZ_CHECK(state != netref::Flush::busy, "send_nowait said busy with no other writer");
          NETREF_FUZZ_CHECK((state == netref::Flush::done) == (channel->queued_bytes() == 0),
                            "send_nowait's answer disagrees with what is queued");
          break;
        }
        case 2: {
          const auto state = channel->flush();
          NETREF_FUZZ_CHECK(state != netref::Flush::busy, "flush said busy with no other writer");
          NETREF_FUZZ_CHECK((state == netref::Flush::done) == (channel->queued_bytes() == 0),
                            "flush's answer disagrees with what is queued");
          if (state == netref::Flush::done) check_drained("a flush said done");
          break;
        }
        case 3:
          channel->flush_wait();
          check_drained("flush_wait");
          break;
        case 4:
          channel->send(payload);
          check_drained("send");
          break;
        case 5: {
          const auto n = static_cast<std::uint32_t>(arriving.size());
          const std::uint8_t header[5] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                          static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n), 0};
          stream.incoming.insert(stream.incoming.end(), header, header + 5);
          stream.incoming.insert(stream.incoming.end(), arriving.begin(), arriving.end());
          stream.incoming.push_back('\n');
          Bytes out;
          in_recv = true;
          channel->recv(out);
          in_recv = false;
          NETREF_FUZZ_CHECK(out == arriving, "recv returned another payload than the one that arrived");
          NETREF_FUZZ_CHECK(stream.incoming.empty(), "bytes left unread after the only frame");
          break;
        }
        default:
          break;
      }
      check_accounting();
    } catch (const netref::BudgetExceeded& e) {
      in_recv = false;
      if (netref::fuzz::trace()) std::fprintf(stderr, "  BudgetExceeded%s: %s\n", stream.closed() ? " (closed)" : "", e.what());
      NETREF_FUZZ_CHECK(sends, std::string("BudgetExceeded from an operation that queues nothing: ") + e.what());
      if (!stream.closed()) {
        // Refused before anything changed: the frame is not the channel's.
        NETREF_FUZZ_CHECK(stream.written.size() <= model_before, "a refused frame was partly written");
        model.stream.resize(model_before);
        model.ends.pop_back();
        model.payloads.pop_back();
        check_accounting();
      } else {
        closed = true;  // part of the frame went out: the stream cannot carry another
      }
    } catch (const netref::WriteStalled& e) {
      in_recv = false;
      if (netref::fuzz::trace()) std::fprintf(stderr, "  WriteStalled: %s\n", e.what());
      NETREF_FUZZ_CHECK(cfg.write_timeout.count() == 0, std::string("WriteStalled with a write_timeout of ") +
                                                            std::to_string(cfg.write_timeout.count()) + " ms: " + e.what());
      NETREF_FUZZ_CHECK(stream.closed(), "WriteStalled left the stream open");
      closed = true;
    } catch (const netref::ConnectionClosed& e) {
      NETREF_FUZZ_CHECK(false, std::string("ConnectionClosed while the stream was open: ") + e.what());
    } catch (const std::exception& e) {
      NETREF_FUZZ_CHECK(false, std::string("undocumented exception: ") + e.what());
    }
  }

  if (closed) {
    // Everything after a close fails with ConnectionClosed and writes nothing.
    const std::size_t written = stream.written.size();
    bool threw = false;
    try {
      channel->enqueue(Bytes{1, 2, 3});
    } catch (const netref::ConnectionClosed&) {
      threw = true;
    }
    NETREF_FUZZ_CHECK(threw, "enqueue on a closed channel did not throw ConnectionClosed");
    threw = false;
    try {
      channel->send_nowait(Bytes{1, 2, 3});
    } catch (const netref::ConnectionClosed&) {
      threw = true;
    } catch (const netref::BudgetExceeded&) {
      threw = true;  // checked before the stream, as for an open one
    }
    NETREF_FUZZ_CHECK(threw, "send_nowait on a closed channel did not throw");
    NETREF_FUZZ_CHECK(stream.written.size() == written, "bytes written after the stream closed");
  } else {
    // Drain: with no allowance left every write takes what it is offered.
    stream.allowances.clear();
    try {
      channel->flush_wait();
    } catch (const std::exception& e) {
      NETREF_FUZZ_CHECK(false, std::string("the final drain failed: ") + e.what());
    }
    check_accounting();
    check_drained("the final drain");
  }
  const std::size_t frames_written = static_cast<std::size_t>(
      std::upper_bound(model.ends.begin(), model.ends.end(), stream.written.size()) - model.ends.begin());
  if (!closed) NETREF_FUZZ_CHECK(frames_written == model.payloads.size(), "not every frame written");
  const Bytes written = std::move(stream.written);
  channel.reset();
  NETREF_FUZZ_CHECK(budget.in_use() == 0, std::to_string(budget.in_use()) + " bytes of the budget charged after the channel went");

  // Read back by another channel, the bytes are the payloads, framed whole.
  auto replay = std::make_unique<netref::fuzz::ScriptedStream>(netref::fuzz::ScriptedStream::End::eof);
  replay->add_chunk(written);
  netref::ChannelConfig read_cfg;
  read_cfg.max_frame_bytes = 32u << 20;
  read_cfg.max_inflated_bytes = 32u << 20;
  netref::Channel reader(std::move(replay), read_cfg);
  std::size_t got = 0;
  try {
    for (;;) {
      Bytes out;
      reader.recv(out);
      NETREF_FUZZ_CHECK(got < frames_written, "read back more frames than were written whole");
      NETREF_FUZZ_CHECK(out == model.payloads[got], "frame " + std::to_string(got) + " reads back as another payload");
      ++got;
    }
  } catch (const netref::ConnectionClosed&) {
  } catch (const std::exception& e) {
    NETREF_FUZZ_CHECK(false, std::string("reading the written bytes back failed: ") + e.what());
  }
  NETREF_FUZZ_CHECK(got == frames_written, "read back " + std::to_string(got) + " frames of " + std::to_string(frames_written));
  return 0;
}
