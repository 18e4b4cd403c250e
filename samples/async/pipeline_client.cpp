// Promise pipelining against the counter sample's server (samples/counter/server.cpp): a chain
// of four calls, each on the result of the one before, sent before any reply arrives.
// Usage: pipeline_client PORT
//
// Between netref peers (both list the `pipeline` feature) the four requests leave at once and
// the server runs each after the one it depends on: one round trip. Against a server without
// the feature (Python's rpyc) the same code waits for each result first: four round trips.
#include <netref/netref.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: pipeline_client PORT\n";
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  auto client = netref::connect("127.0.0.1", port);
  auto root = client->root();
  auto& connection = client->connection();

  const auto before = connection.traffic();
  auto counter = root->attr("make_counter")->async_call(10);  // AsyncCall, sent now
  auto forked = counter->attr("fork")->async_call(5);        // sent now, on the pending counter
  auto again = forked->attr("fork")->async_call(5);          // on the pending fork
  auto added = again->attr("add")->async_call(1);            // on the pending fork of the fork
  const auto sent = connection.traffic();
  const std::int64_t v = added.value().as<std::int64_t>();   // all four answered
  const auto after = connection.traffic();

  // Round trips, from the connection's frame counters: the replies the client had to read
  // before its last request could leave, plus the wait for the last reply.
  const auto round_trips = (sent.frames_in - before.frames_in) + 1;
  std::cout << "make_counter(10).fork(5).fork(5).add(1) = " << v << "\n";
  std::cout << "pipelined: " << (connection.peer_has(netref::Feature::pipeline) ? "yes" : "no") << "\n";
  std::cout << "requests: " << (after.frames_out - before.frames_out)
            << ", replies: " << (after.frames_in - before.frames_in) << "\n";
  std::cout << "round trips: " << round_trips << "\n";
  return v == 21 ? 0 : 1;
}
