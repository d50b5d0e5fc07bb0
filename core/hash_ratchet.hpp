// status-go's hash ratchet as token-gated communities use it for their
// history archives (protocol/encryption: encryptor.go, helpers.go,
// persistence.go). A key is (group ID, unix ms timestamp, 32 bytes); the
// message key for sequence number n >= 1 is keccak256 applied n times to
// it; a message is AES-256-GCM (ciphertext ‖ tag ‖ nonce, no AAD) wrapped in
// ProtocolMessage{installation_id, encrypted_message{"none": {payload,
// HR_header{deprecated_key_id, seq_no, group_id, key_id}}}}. Pure: keys,
// sealing and opening; the keys file and sequence numbers live on disk
// through the small helpers at the end.
#pragma once

#include "core/result.hpp"
#include "core/status_envelope.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace annals {

using hr_secret = std::array<std::uint8_t, 32>;

struct hr_key {
  std::string group_id;        // bytes: a community's 33-byte compressed key
  std::uint64_t timestamp_ms = 0;
  hr_secret key{};

  /// keccak256(group_id ‖ little-endian u64 timestamp ‖ key), 32 bytes.
  std::string key_id() const;
  /// The low 32 bits of the timestamp: status-go's old key ID.
  std::uint32_t deprecated_key_id() const { return static_cast<std::uint32_t>(timestamp_ms); }
};

/// The message key of sequence number `seq_no` (>= 1): keccak256^seq_no(key).
hr_secret hr_message_key(const hr_secret& key, std::uint32_t seq_no);

/// Every key this node holds, of any group; old ones stay, since archives
/// written under them stay too.
class hr_keyring {
public:
  /// Adds a key; false when it is already there.
  bool add(const hr_key& key);
  /// By key ID, else by (group, deprecated ID) as status-go looks keys up.
  const hr_key* find(std::string_view key_id, std::string_view group_id,
                     std::uint32_t deprecated_key_id) const;
  /// The group's current key: the newest timestamp.
  const hr_key* newest(std::string_view group_id) const;
  std::size_t size() const { return keys_.size(); }
  const std::vector<hr_key>& keys() const { return keys_; }

private:
  // Indexes into keys_, so a keys file of n keys loads in O(n log n): a
  // token-gated community rotates keys for years.
  std::vector<hr_key> keys_;
  std::unordered_map<std::string, std::size_t> by_id_;                   // key_id()
  std::map<std::pair<std::string, std::uint32_t>, std::size_t> by_old_;  // first added wins
  std::unordered_map<std::string, std::size_t> newest_;                  // by group
};

/// Whether `bytes` are a hash-ratchet ProtocolMessage: judged by structure
/// (top-level field 101, length-delimited, present), not by whether another
/// parse happens to fail as status-go does.
bool is_hash_ratchet_message(std::string_view bytes);

/// An installation ID that makes status-go's plain-archive parse fail on its
/// first byte ('f': wire type 6), so status-go takes its decrypting path; a
/// UUID v4 in form.
std::string hr_installation_id(const random_source& random = system_random);

/// Seals `plaintext` under `key` at `seq_no` (>= 1) as a serialized
/// ProtocolMessage.
result<std::string> hr_seal(std::string_view plaintext, const hr_key& key, std::uint32_t seq_no,
                            const std::string& installation_id,
                            const random_source& random = system_random);

/// What hr_open found besides the plaintext.
struct hr_opened {
  std::string plaintext;
  std::string key_id;  // of the key used
  std::uint32_t seq_no = 0;
};

/// The key a missing_key error of hr_open names (hex key ID, or
/// "<group hex>:<timestamp>" for an old-format header); empty for other errors.
std::string hr_missing_key_id(const error& err);

/// Opens a hash-ratchet ProtocolMessage. Errors, each distinct: malformed
/// (not such a message, seq_no 0 or above 100,000), missing_key (names the
/// key ID and group), verification_failed (authentication failed: a wrong
/// key or changed bytes).
result<hr_opened> hr_open(std::string_view bytes, const hr_keyring& keys);

// -- files --------------------------------------------------------------------

/// A keys file: one JSON object a line,
/// {"group_id": "0x<hex>", "timestamp_ms": N, "key": "<64 hex>"}; blank lines
/// and lines starting with # are skipped. The error names file and line.
result<hr_keyring> load_hr_keys(const std::filesystem::path& file);

/// Appends keys to a keys file (created with mode 0600, never rewritten),
/// skipping ones it holds already; returns how many were added.
result<std::size_t> append_hr_keys(const std::filesystem::path& file,
                                   const std::vector<hr_key>& keys);

/// A fresh key for `group_id`, timestamped as status-go does: now + 10 ms,
/// or one past the group's newest key when that is not older than now.
hr_key make_hr_key(std::string_view group_id, std::uint64_t now_ms, const hr_keyring& held,
                   const random_source& random = system_random);

/// The keys of status-go's encryption_keys_v2 blob (a serialized HRHeader
/// with group_id and keys), as a Status control node exports them.
result<std::vector<hr_key>> parse_hr_key_blob(std::string_view blob);

/// The sequence numbers used so far per key, in a small JSON file beside the
/// archives ({"<key_id hex>": last seq_no}), so a restart never reuses one.
/// next() writes the new number durably before returning it.
class hr_sequence {
public:
  explicit hr_sequence(std::filesystem::path file) : file_(std::move(file)) {}
  result<std::uint32_t> next(const std::string& key_id);

private:
  std::filesystem::path file_;
};

/// How an archive set's bytes are wrapped for a token-gated community: each
/// archive and the index sealed under the group's newest key, at the next
/// sequence number; anything opened with any key held.
struct archive_cipher {
  hr_keyring keys;
  std::string group_id;
  std::string installation_id;
  std::function<result<std::uint32_t>(const std::string& key_id)> next_seq;

  result<std::string> seal(std::string_view plaintext) const;
  result<std::string> open(std::string_view bytes) const;
};

/// A cipher sealing with the newest key of `group_id` in `keys`, sequence
/// numbers kept in `sequence_file`, under a fresh installation ID.
std::shared_ptr<archive_cipher> make_archive_cipher(hr_keyring keys, std::string group_id,
                                                    const std::filesystem::path& sequence_file);

/// Where an archive root keeps a community's sequence numbers (beside
/// archivedata/, not inside the torrent's directory).
std::filesystem::path hr_sequence_file(const std::filesystem::path& root,
                                       const std::string& community_id);

/// A token-gated community's cipher: the keys of `keys_file`, the group
/// (the community's 33-byte key) sealing with its newest one, sequence
/// numbers in hr_sequence_file(root, community). Fails naming the file, or
/// with missing_key when the file holds no key of the group.
result<std::shared_ptr<archive_cipher>> open_archive_cipher(const std::string& community_id,
                                                            const std::filesystem::path& keys_file,
                                                            const std::filesystem::path& root);

} // namespace annals
