#pragma once
/// netref: transparent remote objects for C++, wire-compatible with RPyC. One include.
#include "netref/version.hpp"
#include "netref/stream/error.hpp"
#include "netref/stream/memory_stream.hpp"
#include "netref/stream/socket_stream.hpp"
#include "netref/stream/tls.hpp"
#include "netref/channel/channel.hpp"
#include "netref/protocol/protocol.hpp"
#include "netref/service/service_all.hpp"
#include "netref/proxy/proxy.hpp"
#include "netref/proxy/client.hpp"
#include "netref/discovery/discovery.hpp"
