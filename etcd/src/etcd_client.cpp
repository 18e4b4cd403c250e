#include "netref/etcd/etcd_client.hpp"

#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>

#include "gateway_json.hpp"
#include "http.hpp"

namespace netref {
namespace {

using nlohmann::json;
using detail::base64_encode;
using detail::excerpt;

constexpr int unavailable = 14;      // gRPC UNAVAILABLE: this member cannot serve (no leader): try another
constexpr int unauthenticated = 16;  // gRPC UNAUTHENTICATED: the token expired: authenticate again

// etcd's error answers: {"error": "...", "code": N, "message": "..."} for a request, and
// {"error": {"grpc_code": N, "message": "..."}} inside a stream.
void throw_if_error(const json& reply, const std::string& endpoint, std::string_view path) {
  const auto it = reply.find("error");
  if (it == reply.end()) return;
  int code = 0;
  std::string message;
  const json& holder = it->is_object() ? *it : reply;
  if (const auto c = holder.find(it->is_object() ? "grpc_code" : "code"); c != holder.end() && c->is_number_integer()) {
    code = c->get<int>();
  }
  if (const auto m = holder.find("message"); m != holder.end() && m->is_string()) message = m->get<std::string>();
  if (message.empty() && it->is_string()) message = it->get<std::string>();
  throw EtcdError(code, "etcd at " + endpoint + " refused " + std::string(path) + ": " + message + " (code " +
                            std::to_string(code) + ")");
}

json parse_reply(const std::string& text, long status, const std::string& endpoint, std::string_view path) {
  json reply = json::parse(text, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    throw RegistryReplyError("etcd at " + endpoint + " answered " + std::string(path) + " (HTTP " + std::to_string(status) +
                             ") with something that is not etcd's JSON: " + excerpt(text));
  }
  throw_if_error(reply, endpoint, path);
  if (status != 200) {
    throw RegistryReplyError("etcd at " + endpoint + " answered " + std::string(path) + " with HTTP " +
                             std::to_string(status) + ": " + excerpt(text));
  }
  return reply;
}

}  // namespace

struct EtcdClient::Impl {
  explicit Impl(EtcdConfig c) : config(std::move(c)) {
    if (config.endpoints.empty()) throw std::invalid_argument("EtcdClient: no endpoints");
    for (auto& endpoint : config.endpoints) {
      while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
      if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
        throw std::invalid_argument("EtcdClient: endpoint '" + endpoint + "' is not an http:// or https:// URL");
      }
    }
    options.connect_timeout = config.connect_timeout;
    options.timeout = config.request_timeout;
    options.ca_file = config.ca_file;
    options.cert_file = config.cert_file;
    options.key_file = config.key_file;
    options.max_body_bytes = config.max_reply_bytes;
  }

  // One endpoint: the request with the token (asked for first when there is none), and once
  // more with a fresh token when etcd says the old one expired.
  json post(const std::string& endpoint, std::string_view path, std::string_view body, std::stop_token stop) {
    detail::HttpOptions with_token = options;
    with_token.authorization = token(endpoint, stop);
    try {
      return post_once(endpoint, path, body, with_token, stop);
    } catch (const EtcdError& e) {
      if (config.username.empty() || e.code() != unauthenticated) throw;
      forget_token();
    }
    with_token.authorization = token(endpoint, stop);
    return post_once(endpoint, path, body, with_token, stop);
  }

  json post_once(const std::string& endpoint, std::string_view path, std::string_view body,
                 const detail::HttpOptions& with, std::stop_token stop) const {
    detail::HttpReply reply;
    try {
      reply = detail::http_post(endpoint + std::string(path), body, with, std::move(stop));
    } catch (const detail::HttpGarbage& e) {
      throw RegistryReplyError("etcd at " + endpoint + " answered " + std::string(path) + " with " + e.what());
    }
    return parse_reply(reply.body, reply.status, endpoint, path);
  }

  std::string token(const std::string& endpoint, std::stop_token stop) {
    if (config.username.empty()) return {};
    {
      std::lock_guard lk(mutex);
      if (token_) return *token_;
    }
    const json request = {{"name", config.username}, {"password", config.password}};
    const json reply = post_once(endpoint, "/v3/auth/authenticate", request.dump(), options, std::move(stop));
    const auto it = reply.find("token");
    if (it == reply.end() || !it->is_string()) {
      throw RegistryReplyError("etcd at " + endpoint + " answered /v3/auth/authenticate without a token: " + excerpt(reply.dump()));
    }
    std::lock_guard lk(mutex);
    token_ = it->get<std::string>();
    return *token_;
  }

  void forget_token() {
    std::lock_guard lk(mutex);
    token_.reset();
  }

  // Tries the members in turn from the one that answered last: a member that does not
  // answer, answers garbage or cannot serve now passes the request on; etcd's own refusals
  // are final.
  template <typename Attempt>
  auto failover(std::string_view path, std::stop_token stop, const Attempt& attempt) -> decltype(attempt(std::string())) {
    const std::size_t n = config.endpoints.size();
    const std::size_t first = preferred.load(std::memory_order_relaxed);
    std::string failures;
    bool garbage = false;
    for (std::size_t i = 0; i < n && !stop.stop_requested(); ++i) {
      const std::size_t index = (first + i) % n;
      const std::string& endpoint = config.endpoints[index];
      try {
        auto result = attempt(endpoint);
        preferred.store(index, std::memory_order_relaxed);
        return result;
      } catch (const detail::HttpFailure& e) {
        failures += "\n  " + endpoint + ": " + e.what();
      } catch (const RegistryReplyError& e) {
        garbage = true;
        failures += "\n  " + std::string(e.what());
      } catch (const EtcdError& e) {
        if (e.code() == unauthenticated) forget_token();
        if (e.code() != unavailable) throw;
        failures += "\n  " + std::string(e.what());
      }
    }
    if (garbage) throw RegistryReplyError("no etcd member gave a usable answer to " + std::string(path) + ":" + failures);
    if (stop.stop_requested()) throw RegistryUnreachable("stopped while asking etcd for " + std::string(path));
    throw RegistryUnreachable("no etcd member answered " + std::string(path) + ":" + failures);
  }

  json call(std::string_view path, const json& request, std::stop_token stop = {}) {
    const std::string body = request.dump();
    return failover(path, stop, [&](const std::string& endpoint) { return post(endpoint, path, body, stop); });
  }

  void watch(std::string_view key, std::string_view range_end, std::int64_t start_revision, const WatchHandler& on_events,
             std::stop_token stop);

  EtcdConfig config;
  detail::HttpOptions options;  // without the token
  std::atomic<std::size_t> preferred{0};
  std::mutex mutex;
  std::optional<std::string> token_;  // guarded by mutex; empty until authenticated
};

namespace {

std::int64_t header_revision(const json& reply) {
  const auto header = reply.find("header");
  return header != reply.end() && header->is_object() ? detail::int_field(*header, "revision") : 0;
}

}  // namespace

// One watch: the first member that confirms it (created) keeps it until it ends. Lines are
// one JSON object each: {"result": {...}} or {"error": {...}}.
void EtcdClient::Impl::watch(std::string_view key, std::string_view range_end, std::int64_t start_revision,
                             const WatchHandler& on_events, std::stop_token stop) {
  json create = {{"key", base64_encode(key)}, {"start_revision", std::to_string(start_revision)}};
  if (!range_end.empty()) create["range_end"] = base64_encode(range_end);
  const std::string body = json{{"create_request", create}}.dump();
  constexpr std::string_view path = "/v3/watch";

  failover(path, stop, [&](const std::string& endpoint) {
    detail::HttpOptions with_token = options;
    with_token.authorization = token(endpoint, stop);
    std::string pending;
    bool created = false;
    std::exception_ptr error;
    std::string ended;  // why etcd ended the watch, when it did
    auto on_line = [&](std::string_view line) {
      const json message = json::parse(line, nullptr, false);
      if (message.is_discarded() || !message.is_object()) {
        throw RegistryReplyError("etcd at " + endpoint + " sent a watch line that is not etcd's JSON: " + excerpt(line));
      }
      throw_if_error(message, endpoint, path);
      const auto result = message.find("result");
      if (result == message.end() || !result->is_object()) {
        throw RegistryReplyError("etcd at " + endpoint + " sent a watch line without a result: " + excerpt(line));
      }
      if (result->value("created", false)) created = true;
      if (result->value("canceled", false)) {
        const auto compacted = detail::int_field(*result, "compact_revision");
        ended = compacted != 0 ? "revision " + std::to_string(start_revision) + " was compacted (now " + std::to_string(compacted) + ")"
                               : result->value("cancel_reason", std::string("cancelled"));
        return false;
      }
      const auto events = result->find("events");
      if (events != result->end() && events->is_array() && !events->empty()) {
        std::vector<EtcdEvent> batch;
        batch.reserve(events->size());
        for (const auto& event : *events) {
          EtcdEvent e;
          e.type = event.value("type", std::string()) == "DELETE" ? EtcdEvent::Type::del : EtcdEvent::Type::put;
          const auto kv = event.find("kv");
          if (kv == event.end()) throw RegistryReplyError("etcd at " + endpoint + " sent a watch event without a kv");
          e.kv = detail::parse_kv(*kv);
          batch.push_back(std::move(e));
        }
        on_events(batch, header_revision(*result));
      }
      return true;
    };
    auto on_body = [&](std::string_view bytes) {
      try {
        pending.append(bytes);
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
          if (nl > start && !on_line(std::string_view(pending).substr(start, nl - start))) {
            pending.clear();
            return false;
          }
        }
        pending.erase(0, start);
        if (pending.size() > config.max_reply_bytes) {
          throw RegistryReplyError("etcd at " + endpoint + " sent a watch line longer than " +
                                   std::to_string(config.max_reply_bytes) + " bytes (max_reply_bytes)");
        }
        return true;
      } catch (...) {
        error = std::current_exception();
        return false;
      }
    };
    long status = 0;
    try {
      status = detail::http_post_stream(endpoint + std::string(path), body, with_token, on_body, stop);
    } catch (const detail::HttpGarbage& e) {
      throw RegistryReplyError("etcd at " + endpoint + " answered " + std::string(path) + " with " + e.what());
    }
    if (!error && !pending.empty() && ended.empty()) {  // a last line without its newline
      try {
        on_line(pending);
      } catch (...) {
        error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    if (stop.stop_requested()) return 0;
    if (!ended.empty()) throw EtcdError(11, "etcd at " + endpoint + " ended the watch: " + ended);
    if (!created) {
      throw RegistryReplyError("etcd at " + endpoint + " ended /v3/watch (HTTP " + std::to_string(status) +
                               ") without confirming the watch");
    }
    throw RegistryUnreachable("etcd at " + endpoint + " closed the watch");
  });
}

EtcdClient::EtcdClient(EtcdConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
EtcdClient::~EtcdClient() = default;

const EtcdConfig& EtcdClient::config() const noexcept { return impl_->config; }

std::int64_t EtcdClient::put(std::string_view key, std::string_view value, std::int64_t lease) {
  json request = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) request["lease"] = std::to_string(lease);
  return header_revision(impl_->call("/v3/kv/put", request));
}

EtcdRange EtcdClient::range(std::string_view key, std::string_view range_end) {
  json request = {{"key", base64_encode(key)}};
  if (!range_end.empty()) request["range_end"] = base64_encode(range_end);
  const json reply = impl_->call("/v3/kv/range", request);
  EtcdRange out;
  out.revision = header_revision(reply);
  if (const auto kvs = reply.find("kvs"); kvs != reply.end()) {
    if (!kvs->is_array()) throw RegistryReplyError("etcd answered a range with kvs that is not a list");
    out.kvs.reserve(kvs->size());
    for (const auto& kv : *kvs) out.kvs.push_back(detail::parse_kv(kv));
  }
  return out;
}

EtcdRange EtcdClient::range_prefix(std::string_view prefix) { return range(prefix, etcd_prefix_end(prefix)); }

std::int64_t EtcdClient::delete_range(std::string_view key, std::string_view range_end) {
  json request = {{"key", base64_encode(key)}};
  if (!range_end.empty()) request["range_end"] = base64_encode(range_end);
  return detail::int_field(impl_->call("/v3/kv/deleterange", request), "deleted");
}

EtcdLease EtcdClient::lease_grant(std::chrono::seconds ttl) {
  const json reply = impl_->call("/v3/lease/grant", {{"TTL", std::to_string(ttl.count())}});
  EtcdLease lease{detail::int_field(reply, "ID"), std::chrono::seconds(detail::int_field(reply, "TTL"))};
  if (lease.id == 0 || lease.ttl.count() <= 0) {
    throw RegistryReplyError("etcd granted a lease without an ID or TTL: " + excerpt(reply.dump()));
  }
  return lease;
}

std::optional<std::chrono::seconds> EtcdClient::lease_keepalive(std::int64_t lease) {
  // One POST per renewal: the gateway answers a keepalive stream only when it ends.
  const json reply = impl_->call("/v3/lease/keepalive", {{"ID", std::to_string(lease)}});
  const auto result = reply.find("result");
  if (result == reply.end() || !result->is_object()) {
    throw RegistryReplyError("etcd answered a keepalive without a result: " + excerpt(reply.dump()));
  }
  const auto ttl = detail::int_field(*result, "TTL");  // absent: the lease is gone
  if (ttl <= 0) return std::nullopt;
  return std::chrono::seconds(ttl);
}

void EtcdClient::lease_revoke(std::int64_t lease) {
  try {
    impl_->call("/v3/lease/revoke", {{"ID", std::to_string(lease)}});
  } catch (const EtcdError& e) {
    if (e.code() != 5) throw;  // NOT_FOUND: expired or revoked already
  }
}

void EtcdClient::watch(std::string_view key, std::string_view range_end, std::int64_t start_revision,
                       const WatchHandler& on_events, std::stop_token stop) {
  impl_->watch(key, range_end, start_revision, on_events, std::move(stop));
}

std::string EtcdClient::request(std::string_view path, std::string_view json_body) {
  const json request = json::parse(json_body, nullptr, false);
  if (request.is_discarded()) throw std::invalid_argument("EtcdClient::request: the body is not JSON");
  return impl_->call(path, request).dump();
}

std::string etcd_prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "\0" range end
}

}  // namespace netref
