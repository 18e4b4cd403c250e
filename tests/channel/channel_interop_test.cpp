// Byte compatibility with Python's rpyc.core.channel.Channel (data from
// tests/data/channel/make_golden.py, run under rpyc 5.3).
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

Bytes read_data_file(const std::string& name) {
  const std::string path = std::string(NETREF_TEST_DATA_DIR) + "/channel/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("a 5000-byte frame written by Python's rpyc Channel is received intact") {
  const Bytes payload = read_data_file("rpyc_payload_5000.bin");
  const Bytes python_frame = read_data_file("rpyc_frame_5000.bin");
  REQUIRE(payload.size() == 5000);
  REQUIRE(python_frame.size() > 6);
  CHECK(python_frame[4] == 1);  // rpyc compressed it
  CHECK(python_frame.back() == '\n');

  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b));
  a->write_all(python_frame);
  CHECK(channel.recv() == payload);
}

TEST_CASE("our frame of the same 5000 bytes is what rpyc's Channel.recv expects") {
  const Bytes payload = read_data_file("rpyc_payload_5000.bin");
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(a));
  channel.send(payload);
  // rpyc reads header, then length + 1 bytes, drops the '\n' and zlib.decompresses.
  const RawFrame raw = read_raw_frame(*b);
  CHECK(raw.flag == 1);
  CHECK(raw.terminator == '\n');
  CHECK(zlib_inflate(raw.body, payload.size()) == payload);
}
