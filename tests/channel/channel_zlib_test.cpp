// Flag-1 payloads that are not one whole zlib stream, and zlib bombs (docs/FAULTS.md B2-B6).
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

// Feeds one frame with flag 1 around body to a fresh channel; returns the ProtocolError text.
std::string reject(const Bytes& body, ChannelConfig config = {}, Bytes* out = nullptr) {
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b), config);
  a->write_all(frame(body, 1));
  Bytes local;
  try {
    channel.recv(out ? *out : local);
  } catch (const ProtocolError& error) {
    return error.what();
  }
  FAIL("recv did not throw ProtocolError");
  return {};
}

Bytes accept(const Bytes& body) {
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b));
  a->write_all(frame(body, 1));
  return channel.recv();
}

// deflate with explicit window bits (31: gzip wrapper) and an optional preset dictionary.
Bytes deflate_with(const Bytes& data, int window_bits, const Bytes& dictionary = {}) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  if (!dictionary.empty()) {
    REQUIRE(deflateSetDictionary(&z, dictionary.data(), static_cast<uInt>(dictionary.size())) ==
            Z_OK);
  }
  Bytes out(deflateBound(&z, static_cast<uLong>(data.size())) + 64);
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

TEST_CASE("a zlib bomb is stopped at max_inflated_bytes, quickly") {
  const Bytes bomb = zlib_compress(Bytes(64u << 20, 0), 9);  // ~64 KiB that inflates to 64 MiB
  const auto start = std::chrono::steady_clock::now();
  const std::string message = reject(bomb);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(message == "compressed frame of " + std::to_string(bomb.size()) +
                       " bytes inflates past the limit of 16777216 bytes (max_inflated_bytes)");
}

TEST_CASE("inflating never holds much more than max_inflated_bytes") {
  ChannelConfig config;
  config.max_inflated_bytes = 1u << 20;
  Bytes out;
  reject(zlib_compress(Bytes(8u << 20, 0), 9), config, &out);
  CHECK(out.capacity() <= (1u << 20) + 1);
}

TEST_CASE("a payload that inflates to exactly max_inflated_bytes is accepted") {
  ChannelConfig config;
  config.max_inflated_bytes = 100000;
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b), config);
  a->write_all(frame(zlib_compress(Bytes(100000, 'z')), 1));
  CHECK(channel.recv() == Bytes(100000, 'z'));
  a->write_all(frame(zlib_compress(Bytes(100001, 'z')), 1));
  CHECK_THROWS_AS(channel.recv(), ProtocolError);
}

TEST_CASE("flag 1 with a payload that is not zlib is a protocol error") {
  CHECK(reject(bytes_of("definitely not zlib data")).find("not a valid zlib stream") !=
        std::string::npos);
  Bytes random(4096);
  std::uint32_t state = 12345;
  for (auto& byte : random) {
    state = state * 1103515245u + 12345u;
    byte = static_cast<std::uint8_t>(state >> 24);
  }
  CHECK_FALSE(reject(random).empty());
}

TEST_CASE("flag 1 with an empty payload is a truncated zlib stream") {
  CHECK(reject({}).find("truncated") != std::string::npos);
}

TEST_CASE("flag 1 with a zlib stream of zero bytes is accepted as an empty payload") {
  CHECK(accept(zlib_compress({})).empty());
  CHECK(accept(zlib_compress(bytes_of("x"))) == bytes_of("x"));
}

TEST_CASE("a truncated zlib stream is a protocol error") {
  const Bytes whole = zlib_compress(Bytes(10000, 'q'));
  for (const std::size_t keep : {std::size_t{1}, std::size_t{2}, whole.size() / 2, whole.size() - 1}) {
    CAPTURE(keep);
    const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(keep));
    CHECK(reject(cut).find("truncated") != std::string::npos);
  }
}

TEST_CASE("bytes after the end of the zlib stream are a protocol error") {
  Bytes body = zlib_compress(bytes_of("payload"));
  body.push_back('x');
  body.push_back('y');
  CHECK(reject(body).find("has 2 trailing bytes after its zlib stream") != std::string::npos);
}

TEST_CASE("two concatenated zlib streams are a protocol error") {
  Bytes body = zlib_compress(bytes_of("one"));
  const Bytes second = zlib_compress(bytes_of("two"));
  body.insert(body.end(), second.begin(), second.end());
  CHECK(reject(body).find("trailing bytes") != std::string::npos);
}

TEST_CASE("gzip-wrapped data is a protocol error") {
  const Bytes gzip = deflate_with(bytes_of("hello gzip"), 31);
  REQUIRE(gzip[0] == 0x1f);
  REQUIRE(gzip[1] == 0x8b);
  CHECK(reject(gzip).find("not a valid zlib stream") != std::string::npos);
}

TEST_CASE("raw deflate data without the zlib header is a protocol error") {
  CHECK_FALSE(reject(deflate_with(bytes_of("hello raw deflate"), -15)).empty());
}

TEST_CASE("a zlib stream that needs a preset dictionary is a protocol error") {
  const Bytes body = deflate_with(bytes_of("hello hello hello"), 15, bytes_of("hello"));
  CHECK(reject(body).find("needs a preset zlib dictionary") != std::string::npos);
}

TEST_CASE("a zlib stream with a corrupted checksum is a protocol error") {
  Bytes body = zlib_compress(bytes_of("checksummed payload"));
  body.back() ^= 0xFF;
  CHECK(reject(body).find("not a valid zlib stream") != std::string::npos);
}

TEST_CASE("a channel keeps working after an oversized compressed frame is rejected") {
  ChannelConfig config;
  config.max_inflated_bytes = 1000;
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b), config);
  a->write_all(frame(zlib_compress(Bytes(5000, 1)), 1));
  CHECK_THROWS_AS(channel.recv(), ProtocolError);
  // The frame was consumed whole, so framing is still aligned (the layer above closes anyway).
  a->write_all(frame(zlib_compress(Bytes(900, 2)), 1));
  CHECK(channel.recv() == Bytes(900, 2));
}
