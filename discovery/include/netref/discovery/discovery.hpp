#pragma once
/// Discovery: RPyC's registry protocol (client, server, auto-registration) and
/// connect_by_service, balancing and the reconnecting client. One include.
#include "netref/discovery/balancer.hpp"
#include "netref/discovery/connect_by_service.hpp"
#include "netref/discovery/errors.hpp"
#include "netref/discovery/reconnecting_client.hpp"
#include "netref/discovery/registrar.hpp"
#include "netref/discovery/registry_client.hpp"
#include "netref/discovery/registry_server.hpp"
