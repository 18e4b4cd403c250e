#pragma once
/// The protocol layer in one include.
#include "netref/protocol/async_result.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/protocol/consts.hpp"
#include "netref/protocol/deferred_result.hpp"
#include "netref/protocol/errors.hpp"
#include "netref/protocol/exception_codec.hpp"
#include "netref/protocol/object.hpp"
#include "netref/protocol/pipeline.hpp"
#include "netref/protocol/remote_ref.hpp"
#include "netref/protocol/request_context.hpp"
#include "netref/protocol/value.hpp"
