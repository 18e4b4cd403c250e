#pragma once
// The shapes of etcd's JSON gateway: keys and values in base64, 64-bit numbers as strings
// (or absent when zero), errors as {"error","code","message"}; and the endpoint JSON of
// etcd's naming convention. nlohmann-json does the parsing; this file knows the shapes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "netref/discovery/registry_client.hpp"
#include "netref/etcd/etcd_client.hpp"

namespace netref::detail {

std::string base64_encode(std::string_view bytes);
/// Throws RegistryReplyError (what names the field) when text is not base64.
std::string base64_decode(std::string_view text, std::string_view what);

/// A 64-bit field: a string of digits, a number, or absent (0). Throws RegistryReplyError.
std::int64_t int_field(const nlohmann::json& object, const char* name);
/// A base64 field decoded; absent: empty.
std::string bytes_field(const nlohmann::json& object, const char* name);

/// One "kv" object of a range reply or watch event.
EtcdKeyValue parse_kv(const nlohmann::json& kv);

/// {"Op":0,"Addr":"host:port","Metadata":metadata} (metadata: JSON text; empty: null).
std::string endpoint_json(std::string_view address, std::string_view metadata_json);
/// The server an endpoint JSON names; nullopt when it is a delete (Op 1) or does not parse
/// as one (a stray key is skipped, not fatal).
std::optional<ServiceAddress> parse_endpoint(std::string_view value);

/// "host:port" (IPv6 hosts in brackets).
std::string host_port(std::string_view host, std::uint16_t port);

/// The first bytes of text, printable, for error messages.
std::string excerpt(std::string_view text);

}  // namespace netref::detail
