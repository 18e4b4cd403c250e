#include "http.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <stop_token>

namespace netref::detail {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw HttpFailure("libcurl failed to initialise");
  });
}

struct EasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* h) const noexcept { curl_multi_cleanup(h); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

// What the write callback sees: where the bytes go, and whether to keep going.
struct Sink {
  const std::function<bool(std::string_view)>* on_body = nullptr;  // streaming
  std::string* body = nullptr;                                       // unary
  std::size_t limit = 0;
  bool too_long = false;
  bool got_bytes = false;
};

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto& sink = *static_cast<Sink*>(user);
  const std::size_t n = size * count;
  sink.got_bytes = true;
  if (sink.body) {
    if (sink.body->size() + n > sink.limit) {
      sink.too_long = true;
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    sink.body->append(data, n);
    return n;
  }
  try {
    return (*sink.on_body)(std::string_view(data, n)) ? n : 0;
  } catch (...) {
    return 0;  // a handler that throws ends the stream; it keeps its own error
  }
}

std::string describe(CURLcode code, const char* detail) {
  std::string text = detail && *detail ? detail : curl_easy_strerror(code);
  return text;
}

// One request: sets the handle up, then drives it until done, stopped, or (streaming) the
// first bytes are late.
long perform(const std::string& url, std::string_view body, const HttpOptions& options, Sink& sink,
             std::stop_token stop, bool streaming) {
  global_init();
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!easy || !multi) throw HttpFailure("libcurl could not allocate a request");
  char error[CURL_ERROR_SIZE] = {};
  curl_slist* raw_headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!options.authorization.empty()) {
    raw_headers = curl_slist_append(raw_headers, ("Authorization: " + options.authorization).c_str());
  }
  std::unique_ptr<curl_slist, ListDeleter> headers(raw_headers);
  CURL* h = easy.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  if (!streaming) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  if (!options.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, options.cert_file.c_str());
  if (!options.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, options.key_file.c_str());
  // A member that vanishes without a FIN under a long watch is noticed within about 20 s.
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);

  curl_multi_add_handle(multi.get(), h);
  // curl_multi_wakeup is the one call libcurl allows from another thread.
  std::stop_callback wake(stop, [m = multi.get()] { curl_multi_wakeup(m); });
  const auto first_bytes_by = std::chrono::steady_clock::now() + options.connect_timeout + options.timeout;
  CURLcode result = CURLE_OK;
  bool done = false;
  bool late = false;
  while (!done) {
    int running = 0;
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) throw HttpFailure("libcurl failed to drive a request");
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg == CURLMSG_DONE) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done) break;
    if (stop.stop_requested()) break;
    if (streaming && !sink.got_bytes && std::chrono::steady_clock::now() >= first_bytes_by) {
      late = true;
      break;
    }
    curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
  }
  curl_multi_remove_handle(multi.get(), h);
  if (late) {
    throw HttpFailure("no answer within " + std::to_string(options.timeout.count()) + " ms");
  }
  if (!done) {  // stopped
    if (streaming) return 200;
    throw HttpFailure("request stopped");
  }
  if (sink.too_long) {
    throw HttpGarbage("reply longer than " + std::to_string(options.max_body_bytes) + " bytes (max_reply_bytes)");
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (result == CURLE_WRITE_ERROR && streaming) return status;  // on_body ended it
  if (result == CURLE_WEIRD_SERVER_REPLY || result == CURLE_UNSUPPORTED_PROTOCOL) {  // HTTP/0.9 included
    throw HttpGarbage("not an HTTP answer: " + describe(result, error));
  }
  if (result == CURLE_OPERATION_TIMEDOUT) {
    throw HttpFailure("no answer within " + std::to_string(options.timeout.count()) + " ms (" + describe(result, error) + ")");
  }
  if (result != CURLE_OK) throw HttpFailure(describe(result, error));
  return status;
}

}  // namespace

HttpReply http_post(const std::string& url, std::string_view body, const HttpOptions& options, std::stop_token stop) {
  HttpReply reply;
  Sink sink;
  sink.body = &reply.body;
  sink.limit = options.max_body_bytes;
  reply.status = perform(url, body, options, sink, std::move(stop), false);
  return reply;
}

long http_post_stream(const std::string& url, std::string_view body, const HttpOptions& options,
                      const std::function<bool(std::string_view)>& on_body, std::stop_token stop) {
  Sink sink;
  sink.on_body = &on_body;
  return perform(url, body, options, sink, std::move(stop), true);
}

}  // namespace netref::detail
