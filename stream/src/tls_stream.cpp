// TlsSocketStream: TLS over an accepted or connected socket stream, and connect_tls /
// accept_tls.
//
// One SSL object serves a reader and a writer thread. OpenSSL forbids using it from two
// threads at once, so every SSL call runs under mutex_; the socket is driven without blocking
// (MSG_DONTWAIT), and a call that wants the socket releases the mutex and waits in poll(),
// where close() can wake it (shutdown of the fd, as plain sockets do). The record layer reads
// and writes through our own BIO, which sends with MSG_NOSIGNAL: OpenSSL's socket BIO uses
// write(), and a peer that reset the connection would raise SIGPIPE.
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "netref/stream/socket_stream.hpp"
#include "netref/stream/tls.hpp"
#include "socket_stream_impl.hpp"
#include "tls_stream_impl.hpp"

// OpenSSL starts before main whenever TLS is linked in, so its exit-time cleanup is
// registered first and runs last: after any static whose end joins a thread which touched
// OpenSSL's per-thread error state (the timer thread closes TLS connections on liveness
// timeouts, and is joined when the last connection goes, which may be a static's at exit).
[[maybe_unused]] static const int openssl_started_early = OPENSSL_init_ssl(0, nullptr);

namespace netref {
namespace detail {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------
// The socket BIO

/// What the BIO works on: the descriptor, and what happened on the last call. Owned by the
/// stream, touched only under its mutex (the BIO runs inside SSL calls).
struct SocketBioState {
  int fd = -1;
  bool eof = false;    ///< recv returned 0: the peer shut its side
  int last_errno = 0;  ///< errno of the last failed send or recv (not EAGAIN); 0 if none
};

SocketBioState& state_of(BIO* bio) { return *static_cast<SocketBioState*>(BIO_get_data(bio)); }

int bio_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  SocketBioState& state = state_of(bio);
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::send(state.fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      *written = static_cast<std::size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_write(bio);
    } else {
      state.last_errno = errno;
    }
    return 0;
  }
}

int bio_read(BIO* bio, char* data, std::size_t size, std::size_t* read) {
  SocketBioState& state = state_of(bio);
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(state.fd, data, size, MSG_DONTWAIT);
    if (n > 0) {
      *read = static_cast<std::size_t>(n);
      return 1;
    }
    if (n == 0) {
      // Reported through BIO_CTRL_EOF: OpenSSL then tells a truncated stream (no close_notify)
      // from an error, as SSL_R_UNEXPECTED_EOF_WHILE_READING.
      state.eof = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_read(bio);
    } else {
      state.last_errno = errno;
    }
    return 0;
  }
}

long bio_ctrl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // send() buffers nothing of ours
    case BIO_CTRL_EOF:
      return state_of(bio).eof ? 1 : 0;
    default:
      return 0;  // not supported (kTLS, dup, pending byte counts...)
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bio_destroy(BIO*) { return 1; }  // the state belongs to the stream

/// The BIO_METHOD, made once and kept for the life of the process.
BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "netref socket");
    if (made == nullptr || BIO_meth_set_write_ex(made, bio_write) != 1 ||
        BIO_meth_set_read_ex(made, bio_read) != 1 || BIO_meth_set_ctrl(made, bio_ctrl) != 1 ||
        BIO_meth_set_create(made, bio_create) != 1 ||
        BIO_meth_set_destroy(made, bio_destroy) != 1) {
      BIO_meth_free(made);
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return made;
  }();
  return method;
}

// ---------------------------------------------------------------------------------------
// Errors

/// A handshake that failed; a ConnectionClosed whose reason connect_tls can reuse in its
/// ConnectError without the "TLS handshake with <peer>" prefix.
class HandshakeFailed : public ConnectionClosed {
 public:
  HandshakeFailed(const std::string& peer, std::string reason)
      : ConnectionClosed("TLS handshake with " + peer + " failed: " + reason),
        reason_(std::move(reason)) {}
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

/// What one SSL call did, captured under the mutex before the error queue is cleared.
struct Outcome {
  int error = SSL_ERROR_NONE;  ///< SSL_get_error's verdict
  bool handshaking = false;    ///< the handshake had not finished when the call failed
  std::string reason;          ///< for SSL_ERROR_SSL and SSL_ERROR_SYSCALL: why
  int sys_errno = 0;           ///< for SSL_ERROR_SYSCALL: the socket's errno, if any
  bool truncated = false;      ///< the peer closed without close_notify
};

void lower_first(std::string& text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
}

// "connection reset by peer": errno's text, straight from libc.
std::string lower_errno_message(int error) {
  char buffer[256];
  std::string message = ::strerror_r(error, buffer, sizeof buffer);  // GNU form: the text
  lower_first(message);
  return message;
}

// ---------------------------------------------------------------------------------------
// The stream

struct SslFree {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

class TlsSocketStream final : public TlsStream {
 public:
  /// Takes over a connected socket stream. For a client, host is the name (or IP literal)
  /// to verify and send as SNI unless the context names another.
  TlsSocketStream(StreamPtr inner, TlsContext::Impl& context, const std::string& host)
      : inner_(std::move(inner)), fd_(inner_->native_handle()), name_(inner_->peer_name()) {
    if (fd_ < 0) throw Error("TLS needs a socket stream; " + name_ + " has no descriptor");
    bio_state_.fd = fd_;
    ERR_clear_error();
    ssl_.reset(SSL_new(context.context.get()));
    BIO* bio = socket_bio_method() ? BIO_new(socket_bio_method()) : nullptr;
    if (!ssl_ || !bio) {
      BIO_free(bio);
      const std::string reason = openssl_reason(ERR_get_error());
      ERR_clear_error();
      throw Error("cannot start TLS on " + name_ + ": " + reason);
    }
    BIO_set_data(bio, &bio_state_);
    SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns the BIO from here
    if (context.server) {
      SSL_set_accept_state(ssl_.get());
    } else {
      configure_client(context, host);
      SSL_set_connect_state(ssl_.get());
    }
  }

  // Sends close_notify if the socket takes it at once (close() never blocks), then frees
  // the SSL before inner_ closes the descriptor.
  ~TlsSocketStream() override { close(); }

  TlsSocketStream(const TlsSocketStream&) = delete;
  TlsSocketStream& operator=(const TlsSocketStream&) = delete;

  std::size_t read_available(std::span<std::uint8_t> buffer) override {
    if (closed()) throw_closed_locally();
    if (buffer.empty()) return 0;
    std::size_t got = 0;
    const Outcome outcome =
        call([&](SSL* ssl) { return SSL_read_ex(ssl, buffer.data(), buffer.size(), &got); });
    switch (outcome.error) {
      case SSL_ERROR_NONE:
        read_wants_write_.store(false, std::memory_order_relaxed);
        return got;
      case SSL_ERROR_WANT_READ:  // nothing yet, or records that carry no data (tickets)
        read_wants_write_.store(false, std::memory_order_relaxed);
        return 0;
      case SSL_ERROR_WANT_WRITE:  // a reply the record layer owes (a key update, an alert)
        read_wants_write_.store(true, std::memory_order_relaxed);
        return 0;
      default:
        throw_failure("read", outcome);
    }
  }

  void write_all(std::span<const std::span<const std::uint8_t>> pieces) override {
    if (closed()) throw_closed_locally();
    // Small pieces (a frame's header and body) are gathered into one record: one SSL_write
    // and one send instead of one per piece. Large ones go out as they are.
    staging_.clear();
    for (const auto& piece : pieces) {
      if (piece.size() >= kRecordBytes) {
        flush_staging();
        write_bytes(piece.data(), piece.size());
        continue;
      }
      if (staging_.size() + piece.size() > kRecordBytes) flush_staging();
      staging_.insert(staging_.end(), piece.begin(), piece.end());
    }
    flush_staging();
  }

  // What SSL takes now, never waiting. Small leading pieces go out as one record (as in
  // write_all); the channel gives the bytes not taken again first on its next call, which
  // partial-write mode with a moving write buffer allows (the context sets both).
  std::size_t write_some(std::span<const std::span<const std::uint8_t>> pieces) override {
    if (closed()) throw_closed_locally();
    std::size_t total = 0;
    std::size_t index = 0;
    std::size_t offset = 0;  // into pieces[index]
    const auto skip_empty = [&] {
      while (index < pieces.size() && offset == pieces[index].size()) {
        ++index;
        offset = 0;
      }
    };
    skip_empty();
    while (index < pieces.size()) {
      const std::uint8_t* data = pieces[index].data() + offset;
      std::size_t size = pieces[index].size() - offset;
      if (size < kRecordBytes) {  // gather a record's worth from the pieces that follow
        staging_.clear();
        for (std::size_t i = index, from = offset; i < pieces.size() && staging_.size() < kRecordBytes; ++i, from = 0) {
          const std::size_t take = std::min(pieces[i].size() - from, kRecordBytes - staging_.size());
          staging_.insert(staging_.end(), pieces[i].begin() + static_cast<std::ptrdiff_t>(from),
                          pieces[i].begin() + static_cast<std::ptrdiff_t>(from + take));
        }
        data = staging_.data();
        size = staging_.size();
      }
      std::size_t written = 0;
      const Outcome outcome = call([&](SSL* ssl) { return SSL_write_ex(ssl, data, size, &written); });
      if (outcome.error == SSL_ERROR_WANT_WRITE || outcome.error == SSL_ERROR_WANT_READ) return total;
      if (outcome.error != SSL_ERROR_NONE) throw_failure("write", outcome);
      total += written;
      for (std::size_t left = written; left > 0;) {  // advance the cursor past what went
        const std::size_t step = std::min(left, pieces[index].size() - offset);
        offset += step;
        left -= step;
        skip_empty();
      }
      skip_empty();
      if (written < size) return total;  // the socket is full
    }
    return total;
  }

  Ready wait_ready(bool want_read, bool want_write, std::chrono::milliseconds timeout) override {
    if (closed()) throw_closed_locally();
    if (want_read) {
      std::lock_guard lock(mutex_);
      if (SSL_pending(ssl_.get()) > 0) return Ready{true, false};
    }
    short events = want_read ? POLLIN : 0;
    if (want_write || (want_read && read_wants_write_.load(std::memory_order_relaxed))) events |= POLLOUT;
    const int revents = poll_fd(fd_, events, timeout);
    if (closed()) throw_closed_locally();
    if (revents < 0) {
      const int error = errno;
      throw ConnectionClosed("poll failed on " + name_ + ": " + lower_errno_message(error));
    }
    Ready ready;
    ready.readable = want_read && (revents & (POLLIN | POLLERR | POLLHUP)) != 0;
    ready.writable = (revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
    return ready;
  }

  bool poll(std::chrono::milliseconds timeout) override {
    if (closed()) throw_closed_locally();
    {
      // Decrypted bytes already inside OpenSSL: the socket may never signal them. Nothing
      // else hides there: read-ahead stays off, so OpenSSL takes from the socket only the
      // record it is decoding, and a reactor waiting on the fd misses nothing.
      std::lock_guard lock(mutex_);
      if (SSL_pending(ssl_.get()) > 0) return true;
    }
    short events = POLLIN;
    if (read_wants_write_.load(std::memory_order_relaxed)) events |= POLLOUT;
    const int revents = poll_fd(fd_, events, timeout);
    if (closed()) throw_closed_locally();
    if (revents < 0) {
      const int error = errno;  // before anything else can change it
      throw ConnectionClosed("poll failed on " + name_ + ": " + lower_errno_message(error));
    }
    return revents != 0;
  }

  void set_write_timeout(std::chrono::milliseconds timeout) override {
    write_timeout_ms_.store(timeout.count(), std::memory_order_relaxed);
  }

  void close() noexcept override {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    {
      // Best effort close_notify, so the peer can tell our close from a cut connection. The
      // BIO never blocks: with a full socket buffer the alert is dropped. The mutex is held
      // only for non-blocking calls, so taking it here cannot hang.
      std::lock_guard lock(mutex_);
      if (!failed_ && SSL_is_init_finished(ssl_.get())) {
        ERR_clear_error();
        SSL_shutdown(ssl_.get());
        ERR_clear_error();
      }
    }
    inner_->close();  // shutdown(fd): wakes a reader or writer waiting in poll
  }

  bool closed() const noexcept override { return closed_.load(std::memory_order_acquire); }
  std::string peer_name() const override { return name_; }
  int native_handle() const noexcept override { return fd_; }
  void acknowledge_now() noexcept override { inner_->acknowledge_now(); }
  bool one_frame_per_write() const noexcept override { return true; }

  std::string peer_certificate_subject() const override {
    std::lock_guard lock(mutex_);
    if (!SSL_is_init_finished(ssl_.get())) return {};
    X509* certificate = SSL_get0_peer_certificate(ssl_.get());
    // Only a verified certificate names anyone (an insecure client accepts any).
    if (certificate == nullptr || SSL_get_verify_result(ssl_.get()) != X509_V_OK) return {};
    BIO* text = BIO_new(BIO_s_mem());
    if (text == nullptr) return {};
    // RFC 2253 ("CN=alice,O=Example"), keeping UTF-8 as it is rather than escaped.
    X509_NAME_print_ex(text, X509_get_subject_name(certificate), 0,
                       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long size = BIO_get_mem_data(text, &data);
    std::string subject(data, size > 0 ? static_cast<std::size_t>(size) : 0);
    BIO_free(text);
    ERR_clear_error();
    return subject;
  }

  HandshakeStep handshake_step() override {
    if (closed()) throw_closed_locally();
    const Outcome outcome = call([](SSL* ssl) { return SSL_do_handshake(ssl); });
    switch (outcome.error) {
      case SSL_ERROR_NONE:
        return HandshakeStep::done;
      case SSL_ERROR_WANT_READ:
        return HandshakeStep::want_read;
      case SSL_ERROR_WANT_WRITE:
        return HandshakeStep::want_write;
      default:
        if (closed()) throw_closed_locally();
        if (failed()) end_failed_handshake();
        throw HandshakeFailed(name_, failure_reason(outcome));
    }
  }

  bool failed() const {
    std::lock_guard lock(mutex_);
    return failed_;
  }

  // After a fatal handshake error (we refused the peer, or it us): the alert OpenSSL wrote is
  // followed by our FIN, and what the peer sent meanwhile (the rest of its flight; a TLS 1.3
  // client, whose side of the handshake ends first, its first request) is read and dropped.
  // A socket closed with bytes unread answers with a reset, which can overtake the alert: the
  // peer would see a bare EOF instead of the reason ("alert unknown ca"). Never waits.
  void end_failed_handshake() noexcept {
    ::shutdown(fd_, SHUT_WR);
    std::uint8_t sink[4096];
    for (int i = 0; i < 64; ++i) {  // at most 256 KiB: a peer cannot keep us here
      if (::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) <= 0) return;
    }
  }

  void handshake(std::chrono::milliseconds timeout) override {
    const bool forever = timeout.count() < 0;
    const auto deadline = forever ? clock::time_point::max() : clock::now() + timeout;
    for (;;) {
      const HandshakeStep step = handshake_step();
      if (step == HandshakeStep::done) return;
      auto left = -1ms;
      if (!forever) {
        left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
        if (left <= 0ms) throw_handshake_timeout(timeout);
      }
      const int revents = poll_fd(fd_, step == HandshakeStep::want_read ? POLLIN : POLLOUT, left);
      if (closed()) throw_closed_locally();
      if (revents < 0) {
        const int error = errno;  // before anything else can change it
        throw ConnectionClosed("TLS handshake with " + name_ +
                               " failed: poll: " + lower_errno_message(error));
      }
      if (revents == 0) throw_handshake_timeout(timeout);
    }
  }

  std::string protocol_version() const override {
    std::lock_guard lock(mutex_);
    if (!SSL_is_init_finished(ssl_.get())) return {};
    return SSL_get_version(ssl_.get());
  }

 private:
  // TLS records carry at most 16 KiB of data: larger staging buys nothing.
  static constexpr std::size_t kRecordBytes = 16384;
  // How long a writer whose SSL_write wants to read waits for the socket before retrying:
  // the reader thread may take those bytes itself and complete what the writer waits for,
  // and then the socket would not wake the writer.
  static constexpr auto kWriteWantsReadSlice = 10ms;

  void configure_client(const TlsContext::Impl& context, const std::string& host) {
    std::string name = context.server_name.empty() ? host : context.server_name;
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2);  // "[::1]" as people write it in URLs
    }
    in6_addr parsed;
    const bool is_address =
        ::inet_pton(AF_INET, name.c_str(), &parsed) == 1 || ::inet_pton(AF_INET6, name.c_str(), &parsed) == 1;
    bool ok = true;
    // SNI carries host names only (RFC 6066): never an address.
    if (!is_address) ok = SSL_set_tlsext_host_name(ssl_.get(), name.c_str()) == 1;
    if (ok && context.verify_server) {
      if (is_address) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), name.c_str()) == 1;
      } else {
        SSL_set_hostflags(ssl_.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(ssl_.get(), name.c_str()) == 1;
      }
    }
    if (!ok) {
      const std::string reason = openssl_reason(ERR_get_error());
      ERR_clear_error();
      throw Error("cannot verify the TLS server as \"" + name + "\": " + reason);
    }
  }

  // Runs one SSL call under the mutex, with the error queue empty before and after (it is
  // per thread, and a stale entry would be blamed on the next connection this thread serves).
  template <class Call>
  Outcome call(Call&& ssl_call) {
    std::lock_guard lock(mutex_);
    ERR_clear_error();
    bio_state_.last_errno = 0;
    // Asked before the call: a fatal error puts the SSL back in an unfinished state.
    const bool handshaking = !SSL_is_init_finished(ssl_.get());
    const int rc = ssl_call(ssl_.get());
    Outcome outcome;
    outcome.handshaking = handshaking;
    if (rc <= 0) {
      outcome.error = SSL_get_error(ssl_.get(), rc);
      if (outcome.error == SSL_ERROR_SSL || outcome.error == SSL_ERROR_SYSCALL) {
        // Past a fatal error OpenSSL forbids SSL_shutdown; close() must skip it.
        failed_ = true;
        describe_failure(outcome);
      }
    }
    ERR_clear_error();
    return outcome;
  }

  // Fills outcome's reason from the error queue and the socket. Called under the mutex.
  void describe_failure(Outcome& outcome) {
    const unsigned long first = ERR_peek_error();
    outcome.sys_errno = bio_state_.last_errno;
    if (first != 0) {
      outcome.reason = openssl_reason(first);
      if (ERR_GET_LIB(first) == ERR_LIB_SSL) {
        const int reason = ERR_GET_REASON(first);
        if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
          const long verify = SSL_get_verify_result(ssl_.get());
          if (verify != X509_V_OK) {
            outcome.reason += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
          }
        }
        outcome.truncated = reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
      }
    } else if (outcome.sys_errno != 0) {
      outcome.reason = lower_errno_message(outcome.sys_errno);
    } else {
      outcome.truncated = bio_state_.eof;
      outcome.reason = "unexpected eof while reading";
    }
  }

  static std::string failure_reason(const Outcome& outcome) {
    if (outcome.error == SSL_ERROR_ZERO_RETURN) return "the peer closed the connection";
    std::string reason = outcome.reason.empty() ? "unknown TLS error" : outcome.reason;
    lower_first(reason);
    return reason;
  }

  [[noreturn]] void throw_failure(const char* operation, const Outcome& outcome) const {
    if (closed()) throw_closed_locally();
    if (outcome.handshaking && outcome.error != SSL_ERROR_ZERO_RETURN) {
      throw HandshakeFailed(name_, failure_reason(outcome));
    }
    if (outcome.error == SSL_ERROR_ZERO_RETURN) {
      throw ConnectionClosed("connection closed by peer (" + name_ + ")");
    }
    if (outcome.truncated) {
      // The peer's side ended without close_notify: whatever it meant to send may be cut.
      throw ConnectionClosed("connection closed by peer without TLS close_notify; the data may "
                             "be truncated (" + name_ + ")");
    }
    if (outcome.sys_errno == ECONNRESET) {
      throw ConnectionClosed("connection reset by peer (" + name_ + ")");
    }
    if (outcome.sys_errno == EPIPE) {
      throw ConnectionClosed("connection closed by peer (" + name_ + ")");
    }
    throw ConnectionClosed(std::string("TLS ") + operation + " failed on " + name_ + ": " +
                           failure_reason(outcome));
  }

  [[noreturn]] void throw_closed_locally() const {
    throw ConnectionClosed("connection closed locally (" + name_ + ")");
  }

  [[noreturn]] void throw_handshake_timeout(std::chrono::milliseconds timeout) const {
    throw Timeout("TLS handshake with " + name_ + " timed out after " +
                  std::to_string(timeout.count()) + " ms");
  }

  void flush_staging() {
    if (staging_.empty()) return;
    write_bytes(staging_.data(), staging_.size());
    staging_.clear();
  }

  // Writes every byte, waiting for the socket as SSL_write asks; gives up (closing the
  // stream) when no byte goes out for the write timeout.
  void write_bytes(const std::uint8_t* data, std::size_t size) {
    auto last_progress = clock::now();
    while (size > 0) {
      if (closed()) throw_closed_locally();
      std::size_t written = 0;
      const Outcome outcome =
          call([&](SSL* ssl) { return SSL_write_ex(ssl, data, size, &written); });
      switch (outcome.error) {
        case SSL_ERROR_NONE:
          data += written;
          size -= written;
          last_progress = clock::now();
          break;
        case SSL_ERROR_WANT_WRITE:
          wait_while_writing(POLLOUT, last_progress);
          break;
        case SSL_ERROR_WANT_READ:
          wait_while_writing(POLLIN, last_progress);
          break;
        default:
          throw_failure("write", outcome);
      }
    }
  }

  // Waits for events on the socket for the rest of the write timeout (counted from the last
  // progress); on expiry closes the stream, since part of a record may be out.
  void wait_while_writing(short events, clock::time_point last_progress) {
    const std::chrono::milliseconds timeout(write_timeout_ms_.load(std::memory_order_relaxed));
    auto left = -1ms;
    if (timeout.count() >= 0) {
      left = std::max(0ms, std::chrono::ceil<std::chrono::milliseconds>(last_progress + timeout -
                                                                        clock::now()));
    }
    auto wait = left;
    if (events == POLLIN && (wait < 0ms || wait > kWriteWantsReadSlice)) {
      wait = kWriteWantsReadSlice;
    }
    const int revents = left == 0ms ? 0 : poll_fd(fd_, events, wait);
    if (closed()) throw_closed_locally();
    if (revents < 0) {
      const int error = errno;  // before anything else can change it
      throw ConnectionClosed("TLS write failed on " + name_ +
                             ": poll: " + lower_errno_message(error));
    }
    if (revents == 0 && timeout.count() >= 0 && clock::now() - last_progress >= timeout) {
      close();
      throw WriteStalled("write stalled for " + std::to_string(timeout.count()) +
                             " ms: the peer is not reading (" + name_ + ")");
    }
  }

  const StreamPtr inner_;  // owns the descriptor; closed (shutdown) by close()
  const int fd_;
  const std::string name_;
  mutable std::mutex mutex_;  // guards ssl_ and bio_state_: one SSL call at a time
  SocketBioState bio_state_;
  std::unique_ptr<SSL, SslFree> ssl_;  // declared after inner_ and bio_state_: freed before them
  bool failed_ = false;                // a fatal TLS error happened (guarded by mutex_)
  std::atomic<bool> closed_{false};
  // The reader's last SSL_read wanted to write: its poll() must wait for room as well.
  std::atomic<bool> read_wants_write_{false};
  std::atomic<long long> write_timeout_ms_{-1};
  std::vector<std::uint8_t> staging_;  // the writer's; one writer at a time
};

}  // namespace
}  // namespace detail

StreamPtr connect_tls(const std::string& host, std::uint16_t port, const TlsContext& context,
                      std::chrono::milliseconds timeout) {
  const std::string where = detail::format_host_port(host, port);
  if (!context.impl() || context.is_server()) {
    throw Error("connect_tls to " + where + " needs a client TlsContext (TlsContext::client)");
  }
  const auto start = std::chrono::steady_clock::now();
  StreamPtr tcp = connect_tcp(host, port, timeout);
  auto stream = std::make_unique<detail::TlsSocketStream>(std::move(tcp), *context.impl(), host);
  auto left = std::chrono::milliseconds(-1);
  if (timeout.count() >= 0) {
    left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start);
    if (left.count() <= 0) left = std::chrono::milliseconds(0);
  }
  try {
    stream->handshake(left);
  } catch (const detail::HandshakeFailed& error) {
    throw ConnectError("cannot connect to " + where + ": TLS handshake failed: " + error.reason());
  } catch (const Timeout&) {
    throw ConnectError("cannot connect to " + where + ": timed out after " +
                       std::to_string(timeout.count()) + " ms in the TLS handshake");
  } catch (const ConnectionClosed& error) {
    throw ConnectError("cannot connect to " + where + ": " + error.what());
  }
  return stream;
}

std::unique_ptr<TlsStream> accept_tls(StreamPtr accepted, const TlsContext& context) {
  if (!accepted) throw Error("accept_tls needs an accepted stream, not null");
  if (!context.impl() || !context.is_server()) {
    throw Error("accept_tls on " + accepted->peer_name() +
                " needs a server TlsContext (TlsContext::server)");
  }
  return std::make_unique<detail::TlsSocketStream>(std::move(accepted), *context.impl(),
                                                   std::string());
}

}  // namespace netref
