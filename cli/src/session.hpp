#pragma once
// Connecting as the command line asks: TLS, timeouts, and the rpyc generation the server
// speaks, detected when --rpyc does not say.
#include <string>

#include "netref/protocol/connection.hpp"
#include "options.hpp"

namespace netref::cli {

/// A connection and the server's root, held for as long as the command runs: dropping the
/// root early would send a DEL with the first request, and an rpyc server answers the two
/// with two small writes, the second held by Nagle's algorithm until our delayed ACK (40 ms).
struct Session {
  ConnectionPtr connection;
  RemoteRefPtr root;
};

/// Connects to options.address and fetches the server's root. Without --rpyc it speaks rpyc
/// 6 first; a server that breaks the link over it (rpyc 4.1 to 5.3 cannot read 6.x messages)
/// is asked again in 5.x. Throws ConnectError, ConnectionClosed, ProtocolError, Timeout, and
/// UsageError for TLS files that do not load.
Session open_session(const Options& options);

/// "netref server, rpyc 6 messages" or "rpyc server, rpyc 5 messages".
std::string describe_peer(const Connection& connection);

}  // namespace netref::cli
