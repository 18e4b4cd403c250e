#include "netref/discovery/registry_client.hpp"

#include "netref/discovery/detail/registry_wire.hpp"
#include "registry_socket.hpp"

namespace netref {
namespace {

using detail::WireBytes;
using detail::RegistryClock;

// What a client reads of one reply at most (rpyc reads 1500 bytes of a QUERY reply and
// 15000 of a LIST reply; netref_registry never sends more than it can read).
constexpr std::size_t max_reply_bytes = 64 * 1024;

// Sends request and returns the first reply that parse accepts. Over UDP a datagram that
// does not parse (a forged or stray one) is skipped while the deadline allows, and named in
// the error if nothing better arrives; over TCP the one reply is final.
template <class Parse>
auto exchange(const RegistryConfig& config, const WireBytes& request, Parse parse) {
  const auto deadline = RegistryClock::now() + config.timeout;
  if (config.transport == RegistryTransport::tcp) {
    return parse(detail::tcp_exchange(config, request, true, deadline, max_reply_bytes));
  }
  detail::UdpExchange udp(config);
  udp.send(request);
  std::optional<RegistryReplyError> garbage;
  for (;;) {
    auto datagram = udp.receive(deadline, max_reply_bytes);
    if (!datagram) break;
    try {
      return parse(*datagram);
    } catch (const RegistryReplyError& e) {
      if (!garbage) garbage = e;
    }
  }
  if (garbage) throw *garbage;
  throw RegistryUnreachable("no registry answered at " + to_string(config) + " within " +
                            std::to_string(config.timeout.count()) + " ms");
}

}  // namespace

std::string to_string(const RegistryConfig& registry) {
  return (registry.transport == RegistryTransport::udp ? "udp://" : "tcp://") + registry.host + ":" +
         std::to_string(registry.port);
}

RegistryClient::RegistryClient(RegistryConfig config) : config_(std::move(config)) {}

void RegistryClient::register_service(const std::vector<std::string>& aliases, std::uint16_t port) const {
  const std::string from = to_string(config_);
  exchange(config_, detail::encode_register_request(aliases, port), [&](const WireBytes& reply) {
    if (!detail::is_ok_reply(reply)) {
      throw RegistryReplyError("the registry at " + from + " did not acknowledge the registration with \"OK\" (" +
                               std::to_string(reply.size()) + " bytes came back)");
    }
    return true;
  });
}

void RegistryClient::unregister_service(std::uint16_t port) const {
  const WireBytes request = detail::encode_unregister_request(port);
  if (config_.transport == RegistryTransport::tcp) {
    detail::tcp_exchange(config_, request, false, RegistryClock::now() + config_.timeout, 0);
  } else {
    detail::UdpExchange udp(config_);
    udp.send(request);
  }
}

std::vector<ServiceAddress> RegistryClient::query(const std::string& name) const {
  const std::string from = to_string(config_);
  return exchange(config_, detail::encode_query_request(name),
                  [&](const WireBytes& reply) { return detail::decode_query_reply(reply, from); });
}

std::vector<std::string> RegistryClient::list(const std::optional<std::string>& filter_host) const {
  const std::string from = to_string(config_);
  auto names = exchange(config_, detail::encode_list_request(filter_host),
                        [&](const WireBytes& reply) { return detail::decode_list_reply(reply, from); });
  if (!names) throw ListingForbidden("the registry at " + from + " does not allow listing its services");
  return std::move(*names);
}

}  // namespace netref
