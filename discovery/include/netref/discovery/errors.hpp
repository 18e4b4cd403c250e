#pragma once
/// What discovery throws. Every one is a DiscoveryError (rpyc's name), so a caller that only
/// wants "could not find a server" catches that; the subclasses say why.
#include "netref/export.hpp"
#include "netref/stream/error.hpp"

namespace netref {

/// Base of discovery's errors (rpyc.utils.factory.DiscoveryError).
class NETREF_API DiscoveryError : public Error {
 public:
  using Error::Error;
};

/// The registry answered: nobody serves that name (or every server is on another host).
class NETREF_API ServiceNotFound : public DiscoveryError {
 public:
  using DiscoveryError::DiscoveryError;
};

/// No registry answered: refused, unreachable, or silent until the timeout. Retry later.
class NETREF_API RegistryUnreachable : public DiscoveryError {
 public:
  using DiscoveryError::DiscoveryError;
};

/// Something answered, but not with a registry reply (garbage, a forged datagram, a reply of
/// the wrong shape). The message says what arrived.
class NETREF_API RegistryReplyError : public DiscoveryError {
 public:
  using DiscoveryError::DiscoveryError;
};

/// The registry does not allow LIST (rpyc_registry without --listing answers None).
class NETREF_API ListingForbidden : public DiscoveryError {
 public:
  using DiscoveryError::DiscoveryError;
};

/// The registry named servers for the service, but none of them accepted a connection.
/// The message lists each address and why it failed.
class NETREF_API ServiceUnavailable : public DiscoveryError {
 public:
  using DiscoveryError::DiscoveryError;
};

}  // namespace netref
