#pragma once
/// The error hierarchy every layer throws. A caller decides from the type alone:
/// ConnectionClosed -> reconnect (StaleReference: already reconnected, take new references), Timeout -> retry or give up, ProtocolError -> peer bug,
/// RemoteError (protocol/) -> the callee threw.
#include "netref/export.hpp"
#include <stdexcept>
#include <string>

namespace netref {

/// Base of every error netref throws.
class NETREF_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The link is gone (EOF, reset, closed locally, or the connection failed earlier).
class NETREF_API ConnectionClosed : public Error {
 public:
  using Error::Error;
};

/// A netref of a connection that was replaced: a reconnecting client opened a new connection
/// after this one dropped, and object ids do not carry over (they are per connection). Take
/// fresh references from the client's root(). A ConnectionClosed, so code that catches that
/// still does.
class NETREF_API StaleReference : public ConnectionClosed {
 public:
  using ConnectionClosed::ConnectionClosed;
};

/// The peer stopped reading: what we queued for it made no progress for the write-stall
/// timeout (ChannelConfig::write_timeout), and the stream was closed.
class NETREF_API WriteStalled : public ConnectionClosed {
 public:
  using ConnectionClosed::ConnectionClosed;
};

/// Connecting failed: refused, unreachable, or the name did not resolve. The message names
/// the address.
class NETREF_API ConnectError : public ConnectionClosed {
 public:
  using ConnectionClosed::ConnectionClosed;
};

/// The peer sent bytes that break the protocol; the connection is dropped.
class NETREF_API ProtocolError : public Error {
 public:
  using Error::Error;
};

/// A wait ran past its deadline.
class NETREF_API Timeout : public Error {
 public:
  using Error::Error;
};

/// The caller cancelled the call (AsyncResult::cancel) before its reply arrived.
class NETREF_API Cancelled : public Error {
 public:
  using Error::Error;
};

}  // namespace netref
