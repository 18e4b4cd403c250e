#pragma once
// RPyC's frame: u32 big-endian payload length, u8 flag (0 plain, 1 zlib), payload, '\n'.
// Private to channel/src: what the sending and the receiving side share.
#include <cstddef>
#include <cstdint>

namespace netref::detail {

inline constexpr std::size_t kHeaderBytes = 5;
inline constexpr std::uint8_t kFlagPlain = 0;
inline constexpr std::uint8_t kFlagZlib = 1;
inline constexpr std::uint8_t kTerminator = '\n';

}  // namespace netref::detail
