// A peer answering in the other rpyc generation: the connection closes with a
// GenerationMismatch that names the setting and the value that fixes it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/stream/memory_stream.hpp"

using namespace netref;

namespace {

// Sends GETROOT speaking `ours`, answers it with `answer` from a raw peer, and returns the
// error the connection closed with ("" when it stayed open).
std::string close_error_after(Generation ours, const std::vector<std::uint8_t>& answer) {
  auto [a, b] = make_memory_pair();
  ConnectionConfig cfg;
  cfg.generation = ours;
  auto client = Connection::create(std::make_unique<Channel>(std::move(a)), nullptr, cfg);
  auto pending = client->async_request(Handler::getroot, {});
  Channel peer(std::move(b));
  REQUIRE_FALSE(peer.recv().empty());
  peer.send(answer);
  CHECK_THROWS_AS(pending.value(), ConnectionClosed);
  std::string text;
  if (auto error = client->close_error()) {
    try {
      std::rethrow_exception(error);
    } catch (const GenerationMismatch& e) {
      text = std::string("GenerationMismatch: ") + e.what();
    } catch (const std::exception& e) {
      text = e.what();
    }
  }
  client->close();
  return text;
}

}  // namespace

TEST_CASE("a client speaking 6.x answered in 5.x closes with GenerationMismatch naming Generation::v5") {
  // (msg=REPLY, seq=0, (LABEL_VALUE, None)) as rpyc 5.x writes it
  const std::string error = close_error_after(Generation::v6, {0x12, 0x52, 0x50, 0x11, 0x50, 0x00});
  CHECK(error.find("GenerationMismatch") == 0);
  CHECK(error.find("rpyc 5.x") != std::string::npos);
  CHECK(error.find("ConnectionConfig::generation") != std::string::npos);
  CHECK(error.find("Generation::v5") != std::string::npos);
}

TEST_CASE("a client speaking 5.x answered in 6.x closes with GenerationMismatch naming Generation::v6") {
  // REPLY, then (seq=0, (LABEL_VALUE, None)) as rpyc 6.x writes it
  const std::string error = close_error_after(Generation::v5, {0x02, 0x11, 0x50, 0x11, 0x50, 0x00});
  CHECK(error.find("GenerationMismatch") == 0);
  CHECK(error.find("Generation::v6") != std::string::npos);
}

TEST_CASE("an answer in neither generation is a plain protocol error, not a mismatch") {
  const std::string error = close_error_after(Generation::v6, {0x07, 0x11, 0x50, 0x11, 0x50, 0x00});
  CHECK_FALSE(error.empty());
  CHECK(error.find("GenerationMismatch") == std::string::npos);
}

TEST_CASE("a connection made directly, generation unset, speaks 6.x") {
  auto [a, b] = make_memory_pair();
  auto client = Connection::create(std::make_unique<Channel>(std::move(a)), nullptr, ConnectionConfig{});
  CHECK(client->generation() == Generation::v6);
  client->close();
}
