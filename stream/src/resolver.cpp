// Name resolution within a timeout (resolver.hpp).
#include "resolver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace netref::detail {
namespace {

struct AddrinfoFree {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrinfoList = std::unique_ptr<addrinfo, AddrinfoFree>;

std::atomic<std::size_t> running_lookups{0};

// One lookup, shared by the caller and the thread that runs it; whichever leaves last frees it.
struct PendingLookup {
  std::string host;
  std::string service;
  addrinfo hints{};
  Lookup lookup = nullptr;

  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;     // the lookup returned: rc, saved_errno and result are set
  int rc = 0;
  int saved_errno = 0;
  AddrinfoList result;   // freed with the last owner, read or not
};

std::string lower_first(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// "name or service not known"; EAI_SYSTEM says what errno said.
std::string reason_of(int rc, int saved_errno) {
  if (rc == EAI_SYSTEM) {
    char buffer[256];
    return lower_first(::strerror_r(saved_errno, buffer, sizeof buffer));  // GNU: returns the text
  }
  return lower_first(::gai_strerror(rc));
}

Resolution collect(int rc, int saved_errno, const addrinfo* list) {
  Resolution resolution;
  if (rc != 0) {
    resolution.failure = "name resolution failed (" + reason_of(rc, saved_errno) + ")";
    return resolution;
  }
  for (const addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress address;
    std::memcpy(&address.storage, entry->ai_addr, entry->ai_addrlen);
    address.length = entry->ai_addrlen;
    resolution.addresses.push_back(address);
  }
  if (resolution.addresses.empty()) resolution.failure = "name resolution failed (no addresses)";
  return resolution;
}

}  // namespace

Resolution resolve_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                       bool passive, Lookup lookup) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  const std::string service = std::to_string(port);
  const char* node = host.empty() && passive ? nullptr : host.c_str();

  // An IP literal (or every interface) needs no lookup: converted here, it never waits.
  {
    addrinfo numeric = hints;
    numeric.ai_flags |= AI_NUMERICHOST;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(node, service.c_str(), &numeric, &list);
    AddrinfoList owned(list);
    if (rc != EAI_NONAME) return collect(rc, errno, owned.get());
  }
  if (timeout.count() < 0) {
    addrinfo* list = nullptr;
    const int rc = lookup(node, service.c_str(), &hints, &list);
    const int saved_errno = errno;
    AddrinfoList owned(list);
    return collect(rc, saved_errno, owned.get());
  }

  auto pending = std::make_shared<PendingLookup>();
  pending->host = host;
  pending->service = service;
  pending->hints = hints;
  pending->lookup = lookup;
  try {
    running_lookups.fetch_add(1, std::memory_order_relaxed);
    std::thread([pending]() mutable {
      addrinfo* list = nullptr;
      const int rc = pending->lookup(pending->host.c_str(), pending->service.c_str(), &pending->hints, &list);
      const int saved_errno = errno;
      {
        std::lock_guard lk(pending->mutex);
        pending->rc = rc;
        pending->saved_errno = saved_errno;
        pending->result.reset(list);
        pending->done = true;
      }
      pending->finished.notify_one();
      pending.reset();  // an abandoned lookup's answer is freed here
      running_lookups.fetch_sub(1, std::memory_order_release);
    }).detach();
  } catch (const std::system_error& error) {
    running_lookups.fetch_sub(1, std::memory_order_relaxed);
    Resolution resolution;
    resolution.failure = "name resolution failed (cannot start a lookup thread: " + lower_first(error.what()) + ")";
    return resolution;
  }
  std::unique_lock lk(pending->mutex);
  if (!pending->finished.wait_for(lk, timeout, [&] { return pending->done; })) {
    // TODO(perf): a resolver that never answers costs one thread per connect attempt until
    // getaddrinfo gives up by itself (resolv.conf's timeout and attempts).
    Resolution resolution;
    resolution.failure = "name resolution timed out after " + std::to_string(timeout.count()) + " ms";
    return resolution;
  }
  return collect(pending->rc, pending->saved_errno, pending->result.get());
}

std::size_t lookups_running() noexcept { return running_lookups.load(std::memory_order_acquire); }

std::string describe(const SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    port = ntohs(v6->sin6_port);
    return "tcp [" + std::string(text) + "]:" + std::to_string(port);
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
  ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
  port = ntohs(v4->sin_port);
  return "tcp " + std::string(text) + ":" + std::to_string(port);
}

}  // namespace netref::detail
