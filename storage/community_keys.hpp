// A token-gated community's hash-ratchet keys, as its record names them.
#pragma once

#include "core/hash_ratchet.hpp"
#include "proto/store.pb.h"

#include <filesystem>
#include <memory>

namespace annals {

/// The keys of the record's keys_file; null when it names none.
result<std::shared_ptr<const hr_keyring>> community_keys(const record::Community& community);

/// The cipher an owner seals the community's archives with, sequence
/// numbers kept under `archive_root`; null when the community is not
/// encrypted.
result<std::shared_ptr<const archive_cipher>>
community_cipher(const record::Community& community, const std::filesystem::path& archive_root);

/// The store setting where a member notes the key a community's archives
/// wait for (empty once they no longer do), for its status.
std::string missing_key_setting(const std::string& community_id);

} // namespace annals
