// Fuzz target L1 (docs/FAULTS.md §6): the frame decoder, with reads split where the fuzzer
// chooses. The bytes of the input describe a byte stream and how it arrives (chunks, stalls,
// long runs of one byte); a Channel reads frames from it, either blocking (recv) or as a
// reactor would (read_available, then recv of a buffered frame). Checked against a model that
// parses the same bytes in one piece:
//  - the frames received are exactly the model's, in order, whatever the split;
//  - the run ends as the model says: EOF or truncation -> ConnectionClosed, a bad header,
//    flag, terminator or zlib payload -> ProtocolError (a stall may end it early: Timeout);
//  - a frame the reactor saw whole is taken without touching the stream;
//  - the caps hold: small max_frame_bytes / max_inflated_bytes are chosen, and -rss_limit_mb
//    and -malloc_limit_mb catch any allocation that ignores them;
//  - memory follows the bytes that arrived, not the lengths headers announce: at every read,
//    poll and at the end, the channel's buffers and the output vector hold no more than a few
//    times the bytes delivered so far (the output, or an inflated payload's cap);
//  - whatever ends the run, the process buffer budget is back to nothing charged.
//
// Input: byte 0 picks max_frame_bytes (bits 0-2), max_inflated_bytes (bits 3-5) and the reader
// (bits 6-7: blocking, reactor, or alternating). Then chunks, each led by one byte b:
//   b>>6 == 0: the next (b&63)+1 bytes arrive together;
//   b>>6 == 1: the next ((b&63)<<8 | next byte)+1 bytes arrive together;
//   b>>6 == 2: ((b&63)+1) KiB of the next byte's value arrive together;
//   b>>6 == 3: a stall of (b&3)+1 "nothing yet" answers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "inflate_model.hpp"
#include "netref/channel/channel.hpp"
#include "scripted_stream.hpp"

namespace {

using netref::fuzz::Input;
using netref::fuzz::ScriptedStream;

enum class Outcome { closed, protocol_error, timeout };

const char* name_of(Outcome o) {
  switch (o) {
    case Outcome::closed: return "ConnectionClosed";
    case Outcome::protocol_error: return "ProtocolError";
    case Outcome::timeout: return "Timeout";
  }
  return "?";
}

struct Expected {
  std::vector<std::vector<std::uint8_t>> frames;
  Outcome end = Outcome::closed;
};

// RPyC's framing, parsed in one piece: u32 length, flag, payload, '\n'.
Expected model(const std::vector<std::uint8_t>& bytes, const netref::ChannelConfig& cfg) {
  Expected e;
  std::size_t at = 0;
  for (;;) {
    const std::size_t left = bytes.size() - at;
    if (left < 5) return e;  // clean EOF or a truncated header: both ConnectionClosed
    const std::uint8_t* h = bytes.data() + at;
    const std::uint32_t length = std::uint32_t{h[0]} << 24 | std::uint32_t{h[1]} << 16 | std::uint32_t{h[2]} << 8 | h[3];
    if (length > cfg.max_frame_bytes || h[4] > 1) {
      e.end = Outcome::protocol_error;
      return e;
    }
    if (left < 5 + std::size_t{length} + 1) return e;  // truncated payload
    if (h[5 + length] != '\n') {
      e.end = Outcome::protocol_error;
      return e;
    }
    std::span<const std::uint8_t> payload(h + 5, length);
    if (h[4] == 0) {
      e.frames.emplace_back(payload.begin(), payload.end());
    } else {
      auto inflated = netref::fuzz::model_inflate(payload, cfg.max_inflated_bytes);
      if (!inflated) {
        e.end = Outcome::protocol_error;
        return e;
      }
      e.frames.push_back(std::move(*inflated));
    }
    at += 5 + std::size_t{length} + 1;
  }
}

constexpr std::size_t kMaxFrame[] = {0, 5, 64, 4096, 65535, 100000, 1u << 20, 16u << 20};
constexpr std::size_t kMaxInflated[] = {0, 1, 64, 4096, 65536, 1u << 20, 4u << 20, 16u << 20};
// Enough for frames past the channel's 64 KiB read-ahead (its recv_large path); more only
// slows every run down.
constexpr std::size_t kMaxStream = 256u << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t config = in.u8();
  netref::ChannelConfig cfg;
  cfg.max_frame_bytes = kMaxFrame[config & 7];
  cfg.max_inflated_bytes = kMaxInflated[(config >> 3) & 7];
  const unsigned reader = config >> 6;  // 0 blocking, 1 reactor, 2 and 3 alternate

  auto owned = std::make_unique<ScriptedStream>(ScriptedStream::End::eof);
  ScriptedStream& script = *owned;
  std::vector<std::uint8_t> all;  // the stream in one piece, for the model
  std::size_t total = 0;
  while (!in.empty() && total < kMaxStream) {
    const std::uint8_t b = in.u8();
    std::vector<std::uint8_t> chunk;
    switch (b >> 6) {
      case 0: {
        auto bytes = in.bytes((b & 63u) + 1);
        chunk.assign(bytes.begin(), bytes.end());
        break;
      }
      case 1: {
        auto bytes = in.bytes(((b & 63u) << 8 | in.u8()) + 1);
        chunk.assign(bytes.begin(), bytes.end());
        break;
      }
      case 2:
        chunk.assign(((b & 63u) + 1) * 1024, in.u8());
        break;
      default:
        script.add_stall((b & 3u) + 1);
        continue;
    }
    total += chunk.size();
    all.insert(all.end(), chunk.begin(), chunk.end());
    script.add_chunk(chunk);
  }
  const Expected expected = model(all, cfg);

  netref::Channel channel(std::move(owned), cfg);
  std::vector<std::vector<std::uint8_t>> got;
  Outcome end = Outcome::closed;
  std::vector<std::uint8_t> out;
  // A buffer grows to twice what arrived (at least a read chunk), the read-ahead and a
  // compressed frame's buffer each; inflating starts at four times the compressed size and
  // stops one byte past its cap.
  const auto check_memory = [&] {
    const std::size_t arrived = script.delivered();
    const std::size_t bound = (128u << 10) + 4 * arrived;
    NETREF_FUZZ_CHECK(channel.buffer_capacity() <= bound, "the channel holds " + std::to_string(channel.buffer_capacity()) +
                                                              " bytes after " + std::to_string(arrived) + " arrived");
    NETREF_FUZZ_CHECK(out.capacity() <= std::max(bound, cfg.max_inflated_bytes + 1),
                      "the output holds " + std::to_string(out.capacity()) + " bytes after " + std::to_string(arrived) +
                          " arrived");
  };
  script.on_touch = check_memory;
  bool reactor = reader == 1;
  try {
    for (std::size_t turn = 0; turn < 1'000'000; ++turn) {
      if (reader >= 2) reactor = !reactor;
      if (reactor) {
        if (channel.read_available() != netref::Buffered::frame) continue;
        NETREF_FUZZ_CHECK(channel.buffered() == netref::Buffered::frame, "read_available said frame, buffered() disagrees");
        const auto touches = script.touches();
        channel.recv(out);
        NETREF_FUZZ_CHECK(script.touches() == touches, "recv of a buffered frame touched the stream");
      } else {
        channel.recv(out);
      }
      got.push_back(out);
      NETREF_FUZZ_CHECK(got.size() <= expected.frames.size(),
                        "received frame " + std::to_string(got.size()) + " the model does not have");
    }
    NETREF_FUZZ_CHECK(false, "the reader neither finished nor failed");
  } catch (const netref::ConnectionClosed&) {
    end = Outcome::closed;
  } catch (const netref::ProtocolError&) {
    end = Outcome::protocol_error;
  } catch (const netref::Timeout&) {
    end = Outcome::timeout;
  }

  // However the reader ended, the frame it was receiving gave its budget back.
  NETREF_FUZZ_CHECK(netref::BufferBudget::process().in_use() == 0,
                    std::to_string(netref::BufferBudget::process().in_use()) + " bytes of the buffer budget still charged");

  // A stall may time the reader out in the middle: then what arrived is a prefix.
  const bool complete = end != Outcome::timeout;
  NETREF_FUZZ_CHECK(complete ? got.size() == expected.frames.size() : got.size() <= expected.frames.size(),
                    "got " + std::to_string(got.size()) + " frames, the model " + std::to_string(expected.frames.size()));
  for (std::size_t i = 0; i < got.size(); ++i) {
    NETREF_FUZZ_CHECK(got[i] == expected.frames[i], "frame " + std::to_string(i) + " differs from the model's");
  }
  if (complete) {
    NETREF_FUZZ_CHECK(end == expected.end, std::string("the reader ended with ") + name_of(end) + ", the model with " +
                                               name_of(expected.end));
  }
  check_memory();
  return 0;
}
