#pragma once

#include "core/hex.hpp"

#include <string_view>

namespace annals {

/// Ethereum's Keccak-256 (original Keccak padding, not SHA3-256).
hash256 keccak256(std::string_view data);

/// SHA-256, for the Waku message hash and libp2p.
hash256 sha256(std::string_view data);

} // namespace annals
