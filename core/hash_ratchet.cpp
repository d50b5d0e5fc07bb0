#include "core/hash_ratchet.hpp"

#include "core/file_io.hpp"
#include "core/hex.hpp"
#include "core/keccak.hpp"
#include "proto/protocol_message.pb.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

namespace annals {

namespace {

/// status-go refuses to ratchet further than this past what it cached
/// (ErrHashRatchetSeqNoTooHigh); a writer must stay below it.
constexpr std::uint32_t max_seq_no = 100'000;
/// status-go's map key for a message to every installation.
constexpr const char* no_installation = "none";

std::string bytes_of(const hr_secret& s) { return std::string(as_view(s)); }

std::string short_hex(std::string_view bytes) { return to_hex(bytes).substr(0, 16); }

} // namespace

std::string hr_key::key_id() const {
  std::string material = group_id;
  for (int i = 0; i < 8; ++i)
    material.push_back(static_cast<char>((timestamp_ms >> (8 * i)) & 0xff));
  material += bytes_of(key);
  return std::string(as_view(keccak256(material)));
}

hr_secret hr_message_key(const hr_secret& key, std::uint32_t seq_no) {
  hr_secret h = key;
  for (std::uint32_t i = 0; i < seq_no; ++i)
    h = keccak256(as_view(h));
  return h;
}

bool hr_keyring::add(const hr_key& key) {
  auto id = key.key_id();
  if (by_id_.count(id) != 0)
    return false;
  auto index = keys_.size();
  keys_.push_back(key);
  by_id_.emplace(std::move(id), index);
  by_old_.emplace(std::make_pair(key.group_id, key.deprecated_key_id()), index);
  auto [newest, first] = newest_.emplace(key.group_id, index);
  // Ties keep the earlier key, as a scan for a strictly newer one would.
  if (!first && key.timestamp_ms > keys_[newest->second].timestamp_ms)
    newest->second = index;
  return true;
}

const hr_key* hr_keyring::find(std::string_view key_id, std::string_view group_id,
                               std::uint32_t deprecated_key_id) const {
  if (!key_id.empty())
    if (auto it = by_id_.find(std::string(key_id)); it != by_id_.end())
      return &keys_[it->second];
  auto it = by_old_.find(std::make_pair(std::string(group_id), deprecated_key_id));
  return it == by_old_.end() ? nullptr : &keys_[it->second];
}

const hr_key* hr_keyring::newest(std::string_view group_id) const {
  auto it = newest_.find(std::string(group_id));
  return it == newest_.end() ? nullptr : &keys_[it->second];
}

bool is_hash_ratchet_message(std::string_view bytes) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  for (;;) {
    auto tag = in.ReadTag();
    if (tag == 0)
      return false;
    if (WireFormatLite::GetTagFieldNumber(tag) == 101
        && WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED)
      return true;
    if (!WireFormatLite::SkipField(&in, tag))
      return false;
  }
}

std::string hr_installation_id(const random_source& random) {
  std::array<std::uint8_t, 16> b{};
  if (!random(b.data(), b.size()))
    b.fill(0x5a);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  auto hex = to_hex(b.data(), b.size());
  hex[0] = 'f';
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-"
         + hex.substr(16, 4) + "-" + hex.substr(20);
}

result<std::string> hr_seal(std::string_view plaintext, const hr_key& key, std::uint32_t seq_no,
                            const std::string& installation_id, const random_source& random) {
  if (seq_no == 0 || seq_no >= max_seq_no)
    return make_error(errc::invalid_argument,
                      "hash ratchet: sequence number " + std::to_string(seq_no)
                        + " is outside 1.." + std::to_string(max_seq_no - 1));
  if (installation_id.empty())
    return make_error(errc::invalid_argument, "hash ratchet: empty installation ID");
  auto sealed = seal_waku_payload(plaintext, hr_message_key(key.key, seq_no), random);
  if (!sealed)
    return sealed.error();
  encryption::HashRatchetEnvelope envelope;
  envelope.set_installation_id(installation_id);
  auto& entry = (*envelope.mutable_encrypted_message())[no_installation];
  entry.set_payload(std::move(*sealed));
  auto* header = entry.mutable_hr_header();
  header->set_deprecated_key_id(key.deprecated_key_id());
  header->set_seq_no(seq_no);
  header->set_group_id(key.group_id);
  header->set_key_id(key.key_id());
  return envelope.SerializeAsString();
}

std::string hr_missing_key_id(const error& err) {
  if (err.code != errc::missing_key)
    return {};
  static const std::string marker = "no key ";
  auto at = err.message.find(marker);
  if (at == std::string::npos)
    return {};
  at += marker.size();
  return err.message.substr(at, err.message.find(' ', at) - at);
}

result<hr_opened> hr_open(std::string_view bytes, const hr_keyring& keys) {
  encryption::HashRatchetEnvelope envelope;
  if (!is_hash_ratchet_message(bytes)
      || !envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(errc::malformed, "not a hash-ratchet ProtocolMessage");
  auto it = envelope.encrypted_message().find(no_installation);
  if (it == envelope.encrypted_message().end())
    return make_error(errc::malformed, "hash-ratchet message has no \"none\" entry");
  const auto& header = it->second.hr_header();
  if (header.seq_no() == 0)
    return make_error(errc::malformed, "hash-ratchet message has sequence number 0 (a key "
                                       "exchange, not an encrypted archive)");
  if (header.seq_no() >= max_seq_no)
    return make_error(errc::malformed, "hash-ratchet sequence number " + std::to_string(header.seq_no())
                                         + " is beyond what status-go ratchets ("
                                         + std::to_string(max_seq_no) + ")");
  const auto* key = keys.find(header.key_id(), header.group_id(), header.deprecated_key_id());
  if (!key)
    return make_error(errc::missing_key,
                      "no key " + (header.key_id().empty()
                                     ? to_hex(header.group_id()) + ":"
                                         + std::to_string(header.deprecated_key_id())
                                     : to_hex(header.key_id()))
                        + " of group " + to_hex0x(header.group_id()));
  auto opened = open_waku_payload(it->second.payload(), hr_message_key(key->key, header.seq_no()));
  if (!opened)
    return make_error(opened.error().code == errc::verification_failed ? errc::verification_failed
                                                                         : errc::malformed,
                      "hash-ratchet key " + short_hex(key->key_id()) + "…, sequence number "
                        + std::to_string(header.seq_no()) + ": " + opened.error().message);
  return hr_opened{std::move(*opened), key->key_id(), header.seq_no()};
}

// -- files --------------------------------------------------------------------------

result<hr_keyring> load_hr_keys(const std::filesystem::path& file) {
  // A regular file within the limit, told by stat before a byte is read: a
  // directory, /dev/zero or a huge sparse file is named as what it is.
  constexpr std::uint64_t max_keys_file = std::uint64_t{1} << 30;
  if (auto checked = regular_file_within(file, max_keys_file); !checked)
    return checked.error().code == errc::not_found
             ? make_error(errc::not_found, file.string() + ": no such keys file")
             : checked.error();
  std::ifstream in(file);
  if (!in)
    return make_error(errc::io, file.string() + ": cannot be read: " + std::strerror(errno));
  hr_keyring ring;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    auto where = file.string() + ":" + std::to_string(number) + ": ";
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#')
      continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return make_error(errc::malformed, where + "not a JSON object");
    if (!j.contains("group_id") || !j["group_id"].is_string() || !j.contains("key")
        || !j["key"].is_string() || !j.contains("timestamp_ms")
        || !j["timestamp_ms"].is_number_unsigned())
      return make_error(errc::malformed,
                        where + "needs \"group_id\" (hex), \"timestamp_ms\" (unsigned) and \"key\" "
                                "(64 hex)");
    auto group = from_hex(j["group_id"].get<std::string>());
    auto key = from_hex_fixed<32>(j["key"].get<std::string>());
    if (!group || group->empty())
      return make_error(errc::malformed, where + "group_id is not hex");
    if (!key)
      return make_error(errc::malformed, where + "key is not 32 bytes of hex");
    ring.add(hr_key{*group, j["timestamp_ms"].get<std::uint64_t>(), *key});
  }
  return ring;
}

result<std::size_t> append_hr_keys(const std::filesystem::path& file,
                                   const std::vector<hr_key>& keys) {
  hr_keyring held;
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    auto loaded = load_hr_keys(file);
    if (!loaded)
      return loaded.error();
    held = std::move(*loaded);
  }
  std::string lines;
  std::size_t added = 0;
  for (const auto& key : keys) {
    if (!held.add(key))
      continue;
    nlohmann::ordered_json j{{"group_id", to_hex0x(key.group_id)},
                             {"timestamp_ms", key.timestamp_ms},
                             {"key", to_hex(key.key)}};
    lines += j.dump() + "\n";
    ++added;
  }
  if (added == 0)
    return added;
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(errc::io, file.string() + ": " + std::strerror(errno));
  bool ok = ::write(fd, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size())
            && ::fsync(fd) == 0;
  auto saved_errno = errno;
  ::close(fd);
  if (!ok)
    return make_error(errc::io, file.string() + ": " + std::strerror(saved_errno));
  return added;
}

hr_key make_hr_key(std::string_view group_id, std::uint64_t now_ms, const hr_keyring& held,
                   const random_source& random) {
  hr_key key;
  key.group_id = std::string(group_id);
  key.timestamp_ms = now_ms + 10;
  if (const auto* newest = held.newest(group_id); newest && newest->timestamp_ms >= now_ms)
    key.timestamp_ms = newest->timestamp_ms + 1;
  random(key.key.data(), key.key.size());
  return key;
}

result<std::vector<hr_key>> parse_hr_key_blob(std::string_view blob) {
  encryption::HRHeader header;
  if (!header.ParseFromArray(blob.data(), static_cast<int>(blob.size())))
    return make_error(errc::malformed, "key blob is not an HRHeader");
  if (header.group_id().empty() || header.keys().keys_size() == 0)
    return make_error(errc::malformed, "key blob names no group or holds no key");
  std::vector<hr_key> keys;
  for (const auto& k : header.keys().keys()) {
    if (k.key().size() != 32)
      return make_error(errc::malformed, "key blob holds a key of " + std::to_string(k.key().size())
                                           + " bytes, not 32");
    hr_key key;
    key.group_id = header.group_id();
    // status-go: an old key carries only its uint32 ID, which is then its timestamp.
    key.timestamp_ms = k.timestamp() != 0 ? k.timestamp() : k.deprecated_key_id();
    std::copy(k.key().begin(), k.key().end(), key.key.begin());
    keys.push_back(key);
  }
  return keys;
}

result<std::uint32_t> hr_sequence::next(const std::string& key_id) {
  nlohmann::json state = nlohmann::json::object();
  std::error_code ec;
  if (std::filesystem::exists(file_, ec)) {
    auto bytes = read_file_bytes(file_);
    if (!bytes)
      return bytes.error();
    state = nlohmann::json::parse(*bytes, nullptr, false);
    if (state.is_discarded() || !state.is_object())
      return make_error(errc::malformed, file_.string() + ": not a JSON object of sequence numbers");
  }
  auto id = to_hex(key_id);
  std::uint64_t last = state.contains(id) && state[id].is_number_unsigned()
                         ? state[id].get<std::uint64_t>()
                         : 0;
  if (last + 1 >= max_seq_no)
    return make_error(errc::invalid_argument,
                      "hash-ratchet key " + id.substr(0, 16) + "… has used "
                        + std::to_string(last) + " sequence numbers; add a newer key");
  state[id] = last + 1;
  if (auto dir = create_private_dirs(file_.parent_path()); !dir)
    return dir.error();
  if (auto written = write_file_atomic(file_, state.dump() + "\n", 0600); !written)
    return written.error();
  return static_cast<std::uint32_t>(last + 1);
}

std::filesystem::path hr_sequence_file(const std::filesystem::path& root,
                                       const std::string& community_id) {
  return root / "hash-ratchet" / (community_id + ".seq");
}

result<std::shared_ptr<archive_cipher>> open_archive_cipher(const std::string& community_id,
                                                            const std::filesystem::path& keys_file,
                                                            const std::filesystem::path& root) {
  auto group = from_hex(community_id);
  if (!group || group->size() != 33)
    return make_error(errc::invalid_argument, community_id + " is not a community ID");
  auto keys = load_hr_keys(keys_file);
  if (!keys)
    return keys.error();
  if (!keys->newest(*group))
    return make_error(errc::missing_key, keys_file.string() + " holds no key of community "
                                           + community_id + " (annals hrkey new or import)");
  return make_archive_cipher(std::move(*keys), std::move(*group),
                             hr_sequence_file(root, community_id));
}

std::shared_ptr<archive_cipher> make_archive_cipher(hr_keyring keys, std::string group_id,
                                                    const std::filesystem::path& sequence_file) {
  auto cipher = std::make_shared<archive_cipher>();
  cipher->keys = std::move(keys);
  cipher->group_id = std::move(group_id);
  cipher->installation_id = hr_installation_id();
  auto sequence = std::make_shared<hr_sequence>(sequence_file);
  cipher->next_seq = [sequence](const std::string& key_id) { return sequence->next(key_id); };
  return cipher;
}

result<std::string> archive_cipher::seal(std::string_view plaintext) const {
  const auto* key = keys.newest(group_id);
  if (!key)
    return make_error(errc::missing_key, "no key of group " + to_hex0x(group_id)
                                           + " to encrypt the archives with");
  auto seq = next_seq(key->key_id());
  if (!seq)
    return seq.error();
  return hr_seal(plaintext, *key, *seq, installation_id);
}

result<std::string> archive_cipher::open(std::string_view bytes) const {
  auto opened = hr_open(bytes, keys);
  if (!opened)
    return opened.error();
  return std::move(opened->plaintext);
}

} // namespace annals
