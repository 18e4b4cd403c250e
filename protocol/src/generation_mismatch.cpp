// The error of a peer that answers in the other rpyc generation, naming the fix.
#include "netref/protocol/generation_mismatch.hpp"

namespace netref {
namespace {

const char* envelope_of(Generation g) { return g == Generation::v5 ? "5.x" : "6.x"; }
const char* enumerator_of(Generation g) { return g == Generation::v5 ? "Generation::v5" : "Generation::v6"; }

}  // namespace

GenerationMismatch::GenerationMismatch(Generation ours, Generation peers)
    : ProtocolError(std::string("the peer speaks rpyc ") + envelope_of(peers) + " messages and this connection " +
                    envelope_of(ours) + " ones: set ConnectionConfig::generation (a client's " +
                    "ClientConfig::connection.generation) to " + enumerator_of(peers) +
                    ", or leave it unset and connecting finds out"),
      peer_(peers) {}

}  // namespace netref
