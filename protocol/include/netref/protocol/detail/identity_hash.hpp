#pragma once
/// The HASH a peer sees for an object without __hash__: stable for the object's life, but
/// never its address (which would help whoever finds the next memory bug aim). SipHash-2-4
/// of the address under a key drawn once per process.
#include "netref/export.hpp"
#include <cstdint>

namespace netref::detail {

/// A non-negative hash of identity, keyed per process.
NETREF_API std::int64_t identity_hash(const void* identity) noexcept;

}  // namespace netref::detail
