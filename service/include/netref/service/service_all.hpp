#pragma once
/// The service layer in one include.
#include "netref/service/background_serving.hpp"
#include "netref/service/connect.hpp"
#include "netref/service/convert.hpp"
#include "netref/service/deferred.hpp"
#include "netref/service/local.hpp"
#include "netref/service/registry.hpp"
#include "netref/service/server.hpp"
#include "netref/service/service.hpp"
