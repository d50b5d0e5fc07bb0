// The REST tests' HTTP client: net/http_get.hpp, in the tests' namespace.
#pragma once

#include "net/http_get.hpp"

namespace annals::test {
using annals::http_exchange;
using annals::http_get;
using annals::http_reply;
using annals::prometheus_sample;
} // namespace annals::test
