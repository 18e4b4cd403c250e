#pragma once
// HTTP POST through libcurl, each request on its own easy handle driven by a multi handle so
// a stop request (std::stop_token) ends it at once. Used by EtcdClient only.
#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>

namespace netref::detail {

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{1000};
  /// The whole request (unary), or until the first body bytes arrive (streaming).
  std::chrono::milliseconds timeout{2000};
  std::string ca_file, cert_file, key_file;
  std::string authorization;  ///< sent as the Authorization header when set
  std::size_t max_body_bytes = std::size_t{16} << 20;
};

/// The request got no HTTP answer: refused, unreachable, TLS failed, timed out, stopped.
class HttpFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An answer that is not HTTP, or longer than max_body_bytes.
class HttpGarbage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpReply {
  long status = 0;
  std::string body;
};

/// POSTs body (JSON) to url and returns the reply. Throws HttpFailure or HttpGarbage.
HttpReply http_post(const std::string& url, std::string_view body, const HttpOptions& options,
                    std::stop_token stop = {});

/// POSTs body to url and hands the reply's body to on_body as it arrives (on_body returns
/// false to end the request). options.timeout bounds the wait for the first body bytes only;
/// afterwards the stream lasts until the server ends it, on_body says stop, or stop is
/// requested (all return normally). Returns the HTTP status. Throws HttpFailure.
long http_post_stream(const std::string& url, std::string_view body, const HttpOptions& options,
                      const std::function<bool(std::string_view)>& on_body, std::stop_token stop);

}  // namespace netref::detail
