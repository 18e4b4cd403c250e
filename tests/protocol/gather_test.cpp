// A large bytes or str argument or result leaves from the Value it is in (gathered) instead of
// being copied behind its message's head. The bytes on the wire stay exactly the one writer's,
// compressed or not, whatever the transport takes per write.
#include <doctest/doctest.h>

#include <zlib.h>

#include <mutex>

#include "harness.hpp"
#include "netref/protocol/brine.hpp"

using namespace netref;
using namespace netref::test;

namespace {

using Octets = std::vector<std::uint8_t>;  // raw wire bytes (netref::Bytes is a Value kind)

// Passes everything to another stream and records what is written; write_some takes at most
// cap bytes (a transport that fills up), so the rest of a frame is queued and carried later.
class TapStream final : public Stream {
 public:
  TapStream(StreamPtr inner, std::size_t cap) : inner_(std::move(inner)), cap_(cap) {}

  std::size_t read_available(std::span<std::uint8_t> buffer) override { return inner_->read_available(buffer); }
  std::size_t read_some(std::span<std::uint8_t> buffer, std::chrono::milliseconds timeout) override {
    return inner_->read_some(buffer, timeout);
  }
  void write_all(std::span<const std::span<const std::uint8_t>> pieces) override {
    inner_->write_all(pieces);
    record(pieces, SIZE_MAX);
  }
  std::size_t write_some(std::span<const std::span<const std::uint8_t>> pieces) override {
    std::vector<std::span<const std::uint8_t>> capped;
    std::size_t left = cap_;
    for (const auto& piece : pieces) {
      if (left == 0) break;
      capped.push_back(piece.first(std::min(left, piece.size())));
      left -= capped.back().size();
    }
    const std::size_t n = inner_->write_some(capped);
    record(capped, n);
    return n;
  }
  Ready wait_ready(bool want_read, bool want_write, std::chrono::milliseconds timeout) override {
    return inner_->wait_ready(want_read, want_write, timeout);
  }
  bool poll(std::chrono::milliseconds timeout) override { return inner_->poll(timeout); }
  void close() noexcept override { inner_->close(); }
  bool closed() const noexcept override { return inner_->closed(); }
  std::string peer_name() const override { return "tap"; }

  Octets written() const {
    std::lock_guard lk(mutex_);
    return written_;
  }

 private:
  void record(std::span<const std::span<const std::uint8_t>> pieces, std::size_t n) {
    std::lock_guard lk(mutex_);
    for (const auto& piece : pieces) {
      const std::size_t take = std::min(n, piece.size());
      written_.insert(written_.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(take));
      n -= take;
    }
  }

  StreamPtr inner_;
  std::size_t cap_;
  mutable std::mutex mutex_;
  Octets written_;
};

// The payloads of the frames in wire, inflated where flagged.
std::vector<Octets> payloads_of(const Octets& wire) {
  std::vector<Octets> out;
  std::size_t at = 0;
  while (at + 5 <= wire.size()) {
    const std::size_t length = (std::size_t{wire[at]} << 24) | (std::size_t{wire[at + 1]} << 16) |
                               (std::size_t{wire[at + 2]} << 8) | wire[at + 3];
    const std::uint8_t flag = wire[at + 4];
    REQUIRE(at + 5 + length + 1 <= wire.size());
    REQUIRE(wire[at + 5 + length] == '\n');
    Octets body(wire.begin() + static_cast<std::ptrdiff_t>(at + 5),
               wire.begin() + static_cast<std::ptrdiff_t>(at + 5 + length));
    if (flag == 1) {
      Octets inflated(1u << 20);
      uLongf size = inflated.size();
      REQUIRE(uncompress(inflated.data(), &size, body.data(), body.size()) == Z_OK);
      inflated.resize(size);
      body = std::move(inflated);
    }
    out.push_back(std::move(body));
    at += 5 + length + 1;
  }
  CHECK(at == wire.size());
  return out;
}

// A message decoded and encoded again by the one writer, without gathering: a classic
// message is one brine value, a v6 one a raw type byte and then brine values.
Octets reencoded(const Octets& payload) {
  Octets again;
  try {
    brine::encode(brine::decode(payload), again);
    return again;
  } catch (const ProtocolError&) {
    again.clear();
  }
  again.push_back(payload.at(0));
  std::size_t offset = 1;
  while (offset < payload.size()) brine::encode(brine::decode_prefix(payload, offset), again);
  return again;
}

std::string utf8_text(std::size_t size) {
  std::string s;
  while (s.size() < size) s += "gathered \xc3\xa9\xe2\x82\xac ";  // é and €: more than ASCII
  return s;
}

}  // namespace

TEST_CASE("a large bytes or str argument and result go on the wire exactly as the writer puts them") {
  for (const bool compress : {false, true}) {
    for (const std::size_t cap : {SIZE_MAX, std::size_t{7000}}) {
      CAPTURE(compress);
      CAPTURE(cap);
      auto [a, b] = make_memory_pair();
      auto client_stream = std::make_unique<TapStream>(std::move(a), cap);
      auto server_stream = std::make_unique<TapStream>(std::move(b), cap);
      TapStream* client_tap = client_stream.get();
      TapStream* server_tap = server_stream.get();
      ChannelConfig channel_cfg;
      channel_cfg.compress = compress;
      ConnectionConfig server_cfg;
      server_cfg.detect_generation = true;
      auto client = Connection::create(std::make_unique<Channel>(std::move(client_stream), channel_cfg), nullptr);
      auto server = Connection::create(std::make_unique<Channel>(std::move(server_stream), channel_cfg),
                                       std::make_shared<Thing>(), server_cfg);
      std::thread serving([server] { server->serve_all(); });
      auto root = client->root();
      std::string raw(200000, '\0');
      for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<char>((i * 7919) >> 3);
      const Value bytes_value(netref::Bytes{raw});
      const Value str_value(utf8_text(150000));
      CHECK(root->callattr("echo", {bytes_value}) == bytes_value);
      CHECK(root->callattr("echo", {str_value}) == str_value);
      // A large argument among others, and a small one (not gathered) beside them.
      CHECK(root->callattr("echo", {bytes_value, Value(7), str_value}) == bytes_value);
      CHECK(root->callattr("echo", {Value("small")}) == Value("small"));
      client->close();
      server->close();
      serving.join();

      std::size_t large = 0;
      for (const TapStream* tap : {client_tap, server_tap}) {
        for (const Octets& payload : payloads_of(tap->written())) {
          CHECK(reencoded(payload) == payload);  // the writer's own bytes
          if (payload.size() > 100000) ++large;
        }
      }
      CHECK(large == 6);  // three requests and three replies carried a large value
    }
  }
}
