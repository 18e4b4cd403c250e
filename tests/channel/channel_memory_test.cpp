// How much memory a channel holds for a frame in progress: its buffers grow with the bytes
// that arrive, not with the length a header announces (a fuzz finding: a 5-byte header made
// every connection allocate 16 MiB).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "netref/channel/channel.hpp"
#include "piece_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

constexpr std::size_t kChunk = 64u << 10;  // the channel's read chunk

enum class Reader { blocking, reactor };

std::string name_of(Reader r) { return r == Reader::blocking ? "blocking recv" : "reactor read_available"; }


// A channel over a PieceStream, and the most memory it held for a frame as seen from inside
// each read: its own buffers plus the caller's vector (which a large plain frame fills).
struct Watched {
  PieceStream* stream;
  std::unique_ptr<Channel> channel;
  Bytes out;
  std::size_t most_held = 0;
  std::set<std::size_t> sizes_held;  // each distinct total: how often the buffers grew
  bool over_arrivals = false;        // held more than twice what had arrived, plus a chunk

  Watched(Bytes wire, std::vector<std::size_t> pieces, PieceStream::End end, ChannelConfig config = {}) {
    auto owned = std::make_unique<PieceStream>(std::move(wire), std::move(pieces), end);
    stream = owned.get();
    channel = std::make_unique<Channel>(std::move(owned), config);
    stream->on_read = [this](std::size_t delivered) {
      const std::size_t held = channel->buffer_capacity() + out.capacity();
      most_held = std::max(most_held, held);
      sizes_held.insert(held);
      if (held > 2 * std::max(delivered, kChunk) + kChunk) over_arrivals = true;
    };
  }

  // Receives one frame the way reader does.
  void receive(Reader reader) {
    if (reader == Reader::reactor) {
      while (channel->read_available() != Buffered::frame) {
      }
    }
    channel->recv(out);
  }
};

}  // namespace

TEST_CASE("a header announcing 16 MiB followed by a few bytes costs a read chunk, not 16 MiB") {
  for (const std::uint8_t flag : {std::uint8_t{0}, std::uint8_t{1}}) {
    for (const Reader reader : {Reader::blocking, Reader::reactor}) {
      CAPTURE(int{flag});
      CAPTURE(name_of(reader));
      Bytes wire = header(16u << 20, flag);
      wire.resize(wire.size() + 10, 'x');  // ten bytes of the payload, then nothing
      // The stall answers every wait at once; the blocking reader waits out its frame
      // timeout on the clock, which a short one keeps short.
      ChannelConfig config;
      config.frame_timeout = std::chrono::milliseconds(50);
      Watched w(wire, {1, 4, 10}, PieceStream::End::stall, config);
      if (reader == Reader::blocking) {
        CHECK_THROWS_AS(w.channel->recv(w.out), Timeout);
      } else {
        CHECK(w.channel->read_available() == Buffered::partial);
        CHECK(w.channel->read_available() == Buffered::partial);
      }
      CHECK(w.stream->delivered() == wire.size());
      CHECK(w.most_held < (256u << 10));
      CHECK(w.channel->buffer_capacity() + w.out.capacity() < (256u << 10));
    }
  }
}

TEST_CASE("a large frame arriving in pieces comes out byte-identical, its buffers growing with the bytes in") {
  const Bytes payload = noise(3u << 20);
  const Bytes after = bytes_of("the next frame");
  for (const std::uint8_t flag : {std::uint8_t{0}, std::uint8_t{1}}) {
    for (const Reader reader : {Reader::blocking, Reader::reactor}) {
      CAPTURE(int{flag});
      CAPTURE(name_of(reader));
      Bytes wire = frame(flag == 0 ? payload : zlib_compress(payload), flag);
      REQUIRE(wire.size() > (3u << 20));
      const Bytes next = frame(after, 0);
      wire.insert(wire.end(), next.begin(), next.end());
      Watched w(wire, {1, 7, 300, 4096, 70000, 9, 200000, 65536}, PieceStream::End::eof);
      w.receive(reader);
      CHECK(w.out == payload);
      CHECK_FALSE(w.over_arrivals);
      CHECK(w.sizes_held.size() <= 12);  // doubling from a read chunk to 3 MiB, not a step per read
      CHECK(w.most_held <= 2 * wire.size());
      w.receive(reader);  // framing is intact behind it
      CHECK(w.out == after);
    }
  }
}
