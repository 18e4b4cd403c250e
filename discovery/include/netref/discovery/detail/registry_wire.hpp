#pragma once
// The registry's messages, byte for byte as rpyc/utils/registry.py writes them: the requests
// a client sends, the request a registry parses, and the replies each way. Shared by the
// client, the registry server and their tests; not for users.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netref/discovery/registry_client.hpp"

namespace netref::detail {

using WireBytes = std::vector<std::uint8_t>;

/// rpyc's MAX_DGRAM_SIZE: what its registry reads of one request, and its clients of one
/// QUERY or REGISTER reply (LIST replies: ten times this over UDP).
inline constexpr std::size_t rpyc_max_datagram = 1500;

// --- requests: ("RPYC", COMMAND, args)
WireBytes encode_register_request(const std::vector<std::string>& aliases, std::uint16_t port);
WireBytes encode_unregister_request(std::uint16_t port);
WireBytes encode_query_request(const std::string& name);
WireBytes encode_list_request(const std::optional<std::string>& filter_host);

enum class RegistryCommand { register_service, unregister_service, query, list };

/// A request a registry accepted as well formed.
struct RegistryRequest {
  RegistryCommand command = RegistryCommand::query;
  std::vector<std::string> names;   ///< REGISTER: the aliases; QUERY: the one name
  std::uint16_t port = 0;           ///< REGISTER, UNREGISTER
  std::optional<std::string> filter_host;  ///< LIST
};

/// Parses one request. nullopt when the bytes are not one (not brine, wrong magic, unknown
/// command, arguments of the wrong shape): rpyc's registry ignores those, and so do we. The
/// command is matched in any case, as rpyc does (`cmd.lower()`).
std::optional<RegistryRequest> parse_registry_request(std::span<const std::uint8_t> data);
/// True when data is one whole brine value (a TCP request has fully arrived, be it a request
/// or not); false while it may still be the start of one.
bool holds_one_value(std::span<const std::uint8_t> data);

// --- replies
WireBytes encode_ok_reply();
WireBytes encode_none_reply();  ///< LIST when listing is not allowed
/// QUERY's reply: a tuple of (host, port). Keeps the newest servers that fit in max_bytes
/// (rpyc's clients read at most rpyc_max_datagram of it), in the order given.
WireBytes encode_query_reply(const std::vector<ServiceAddress>& servers, std::size_t max_bytes);
/// LIST's reply: a tuple of names, as many as fit in max_bytes.
WireBytes encode_list_reply(const std::vector<std::string>& names, std::size_t max_bytes);

/// Each decoder throws RegistryReplyError naming what arrived when the reply is not of the
/// shape its request gets (from: the registry, for the message).
bool is_ok_reply(std::span<const std::uint8_t> data);
std::vector<ServiceAddress> decode_query_reply(std::span<const std::uint8_t> data, const std::string& from);
/// nullopt: the registry answered None (listing not allowed).
std::optional<std::vector<std::string>> decode_list_reply(std::span<const std::uint8_t> data, const std::string& from);

/// ASCII upper case: how the registry files names (rpyc's name.upper(); letters outside ASCII
/// are kept as they are).
std::string registry_name(std::string name);

}  // namespace netref::detail
