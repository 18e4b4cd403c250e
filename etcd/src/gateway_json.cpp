#include "gateway_json.hpp"

#include <openssl/evp.h>

#include <charconv>

namespace netref::detail {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text, std::string_view what) {
  if (text.size() % 4 != 0) throw RegistryReplyError("etcd sent " + std::string(what) + " that is not base64: " + excerpt(text));
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) throw RegistryReplyError("etcd sent " + std::string(what) + " that is not base64: " + excerpt(text));
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t size = static_cast<std::size_t>(n);
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() > 1 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

std::int64_t int_field(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) return value;
  }
  throw RegistryReplyError(std::string("etcd sent a field ") + name + " that is not an integer: " + excerpt(it->dump()));
}

std::string bytes_field(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) throw RegistryReplyError(std::string("etcd sent a field ") + name + " that is not a string");
  return base64_decode(it->get_ref<const std::string&>(), name);
}

EtcdKeyValue parse_kv(const nlohmann::json& kv) {
  if (!kv.is_object()) throw RegistryReplyError("etcd sent a key-value that is not an object: " + excerpt(kv.dump()));
  EtcdKeyValue out;
  out.key = bytes_field(kv, "key");
  out.value = bytes_field(kv, "value");
  out.mod_revision = int_field(kv, "mod_revision");
  out.lease = int_field(kv, "lease");
  return out;
}

std::string endpoint_json(std::string_view address, std::string_view metadata_json) {
  nlohmann::json endpoint = {{"Op", 0}, {"Addr", address}, {"Metadata", nullptr}};
  if (!metadata_json.empty()) endpoint["Metadata"] = nlohmann::json::parse(metadata_json);
  return endpoint.dump();
}

std::optional<ServiceAddress> parse_endpoint(std::string_view value) {
  const auto endpoint = nlohmann::json::parse(value, nullptr, false);
  if (!endpoint.is_object()) return std::nullopt;
  const auto op = endpoint.find("Op");
  if (op != endpoint.end() && !(op->is_number_integer() && op->get<std::int64_t>() == 0)) return std::nullopt;
  const auto addr = endpoint.find("Addr");
  if (addr == endpoint.end() || !addr->is_string()) return std::nullopt;
  const std::string_view text = addr->get_ref<const std::string&>();
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) return std::nullopt;
  return ServiceAddress{std::string(host), static_cast<std::uint16_t>(port)};
}

std::string host_port(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

std::string excerpt(std::string_view text) {
  constexpr std::size_t limit = 80;
  std::string out = "\"";
  for (const char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  out += '"';
  if (text.size() > limit) out += " (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace netref::detail
