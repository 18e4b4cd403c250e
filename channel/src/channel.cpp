// RPyC framing: u32 big-endian length, u8 flag (0 plain, 1 zlib), payload, '\n'.
#include "netref/channel/channel.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <limits>
#include <string>

namespace netref {
namespace {

constexpr std::size_t kHeaderBytes = 5;
constexpr std::uint8_t kFlagPlain = 0;
constexpr std::uint8_t kFlagZlib = 1;
constexpr std::uint8_t kTerminator = '\n';

// Scratch buffers above this size are freed after use: one huge frame must not pin its
// memory for the life of the connection. Below it they are kept, so steady traffic does
// not allocate per frame.
constexpr std::size_t kRetainedScratchBytes = 1u << 20;

// Inflate output grows from this size (or 4x the compressed size) by doubling, up to the cap.
constexpr std::size_t kMinInflateChunk = 64u << 10;

void release_if_large(std::vector<std::uint8_t>& scratch) {
  if (scratch.capacity() > kRetainedScratchBytes) std::vector<std::uint8_t>().swap(scratch);
}

// Resizes to exactly size without the vector's own geometric growth, so a buffer capped at
// a limit never holds twice the limit.
void grow_to(std::vector<std::uint8_t>& buffer, std::size_t size) {
  if (buffer.size() >= size) return;
  buffer.reserve(size);
  buffer.resize(size);
}

// Something the first bytes of a too-long "frame" may really be: a hint for the log.
std::string guess_foreign_protocol(const std::uint8_t* header) {
  if (header[0] == 0x16 && header[1] == 0x03) return " (not an RPC frame: a TLS handshake?)";
  static constexpr const char* kHttp[] = {"GET ", "POST", "PUT ", "HEAD", "HTTP", "OPTI", "DELE"};
  for (const char* word : kHttp) {
    if (std::equal(header, header + 4, reinterpret_cast<const std::uint8_t*>(word))) {
      return " (not an RPC frame: HTTP?)";
    }
  }
  return {};
}

// Owns a z_stream set up for inflate; inflateEnd runs on every exit path.
class Inflater {
 public:
  Inflater() {
    // inflateInit, not inflateInit2: zlib format only, so gzip and raw deflate are rejected.
    if (inflateInit(&stream_) != Z_OK) {
      throw ProtocolError("cannot start zlib inflate: out of memory");
    }
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  z_stream* operator->() { return &stream_; }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
};

// Inflates compressed into out (resized to the result), never holding more than limit + 1
// output bytes: a zlib bomb is stopped when it crosses the limit, not when it ends.
void inflate_payload(std::span<const std::uint8_t> compressed, std::size_t limit,
                     std::vector<std::uint8_t>& out) {
  const std::size_t hard_cap = limit + 1;  // one byte past the limit proves the overflow
  const std::string what = "compressed frame of " + std::to_string(compressed.size()) + " bytes";
  Inflater inflater;
  inflater->next_in = const_cast<Bytef*>(compressed.data());
  inflater->avail_in = static_cast<uInt>(compressed.size());  // <= max_frame_bytes < 4 GiB

  out.clear();
  grow_to(out, std::min(std::max(kMinInflateChunk, compressed.size() * 4), hard_cap));
  std::size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= hard_cap) {
        throw ProtocolError(what + " inflates past the limit of " + std::to_string(limit) +
                            " bytes (max_inflated_bytes)");
      }
      grow_to(out, std::min(out.size() * 2, hard_cap));
    }
    const std::size_t room = std::min<std::size_t>(out.size() - produced, UINT_MAX);
    inflater->next_out = out.data() + produced;
    inflater->avail_out = static_cast<uInt>(room);
    const uInt in_before = inflater->avail_in;
    const int rc = inflate(inflater.get(), Z_NO_FLUSH);
    produced += room - inflater->avail_out;
    if (produced > limit) {
      throw ProtocolError(what + " inflates past the limit of " + std::to_string(limit) +
                          " bytes (max_inflated_bytes)");
    }
    switch (rc) {
      case Z_STREAM_END:
        if (inflater->avail_in != 0) {
          throw ProtocolError(what + " has " + std::to_string(inflater->avail_in) +
                              " trailing bytes after its zlib stream");
        }
        out.resize(produced);
        return;
      case Z_NEED_DICT:
        throw ProtocolError(what + " needs a preset zlib dictionary");
      case Z_DATA_ERROR:
        throw ProtocolError(what + " is not a valid zlib stream (" +
                            (inflater->msg ? inflater->msg : "data error") + ")");
      case Z_MEM_ERROR:
        throw ProtocolError(what + " could not be inflated: zlib is out of memory");
      case Z_OK:
      case Z_BUF_ERROR:
        // Out of output space: loop and grow. Out of input before the end: truncated.
        if (inflater->avail_out != 0 &&
            (inflater->avail_in == 0 || inflater->avail_in == in_before)) {
          throw ProtocolError(what + " ends before its zlib stream does (truncated)");
        }
        break;
      default:
        throw ProtocolError(what + " could not be inflated (zlib error " + std::to_string(rc) +
                            ")");
    }
  }
}

}  // namespace

Channel::Channel(StreamPtr stream, ChannelConfig config)
    : stream_(std::move(stream)), config_(config) {}

Channel::~Channel() = default;

void Channel::send(std::span<const std::uint8_t> payload) {
  std::span<const std::uint8_t> body = payload;
  std::uint8_t flag = kFlagPlain;
  if (config_.compress && payload.size() > config_.compression_threshold) {
    uLongf size = compressBound(static_cast<uLong>(payload.size()));
    grow_to(send_scratch_, size);
    const int rc = compress2(send_scratch_.data(), &size, payload.data(),
                             static_cast<uLong>(payload.size()), config_.compression_level);
    if (rc != Z_OK) {
      throw Error("cannot compress a payload of " + std::to_string(payload.size()) +
                  " bytes (zlib error " + std::to_string(rc) + ")");
    }
    body = std::span<const std::uint8_t>(send_scratch_.data(), size);
    flag = kFlagZlib;
  }
  if (body.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw Error("frame of " + std::to_string(body.size()) +
                " bytes does not fit the 32-bit length field");
  }
  const auto length = static_cast<std::uint32_t>(body.size());
  const std::array<std::uint8_t, kHeaderBytes> header = {
      static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
      static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), flag};
  static constexpr std::uint8_t kFlusher[1] = {kTerminator};
  const std::span<const std::uint8_t> pieces[3] = {header, body, kFlusher};
  try {
    stream_->write_all(std::span<const std::span<const std::uint8_t>>(pieces));
  } catch (...) {
    release_if_large(send_scratch_);
    throw;
  }
  release_if_large(send_scratch_);
}

void Channel::recv(std::vector<std::uint8_t>& out) {
  std::array<std::uint8_t, kHeaderBytes> header;
  stream_->read_exact(header);
  const std::uint32_t length = (std::uint32_t{header[0]} << 24) |
                               (std::uint32_t{header[1]} << 16) |
                               (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  const std::uint8_t flag = header[4];
  if (length > config_.max_frame_bytes) {
    throw ProtocolError("frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                        std::to_string(config_.max_frame_bytes) + " (max_frame_bytes)" +
                        guess_foreign_protocol(header.data()));
  }
  if (flag != kFlagPlain && flag != kFlagZlib) {
    throw ProtocolError("invalid compressed flag " + std::to_string(flag) + " in frame header");
  }

  // Payload and terminator arrive in one read.
  std::vector<std::uint8_t>& raw = flag == kFlagPlain ? out : recv_scratch_;
  if (flag == kFlagPlain) {
    if (raw.capacity() < std::size_t{length} + 1) raw.reserve(std::size_t{length} + 1);
    raw.resize(std::size_t{length} + 1);
  } else {
    grow_to(raw, std::size_t{length} + 1);
  }
  try {
    stream_->read_exact(std::span<std::uint8_t>(raw.data(), std::size_t{length} + 1));
    if (raw[length] != kTerminator) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", raw[length]);
      throw ProtocolError("frame of " + std::to_string(length) + " bytes ends with " + hex +
                          " instead of '\\n'");
    }
    if (flag == kFlagPlain) {
      out.resize(length);
      return;
    }
    inflate_payload(std::span<const std::uint8_t>(raw.data(), length),
                    config_.max_inflated_bytes, out);
  } catch (...) {
    release_if_large(recv_scratch_);
    throw;
  }
  release_if_large(recv_scratch_);
}

}  // namespace netref
