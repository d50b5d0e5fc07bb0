#include "storage/community_keys.hpp"

#include "core/identity.hpp"

namespace annals {

result<std::shared_ptr<const hr_keyring>> community_keys(const record::Community& community) {
  if (community.keys_file().empty())
    return std::shared_ptr<const hr_keyring>();
  auto keys = load_hr_keys(community.keys_file());
  if (!keys)
    return keys.error();
  return std::make_shared<const hr_keyring>(std::move(*keys));
}

result<std::shared_ptr<const archive_cipher>>
community_cipher(const record::Community& community, const std::filesystem::path& archive_root) {
  if (!community.encrypted())
    return std::shared_ptr<const archive_cipher>();
  auto key = public_key::parse(community.public_key());
  if (!key)
    return key.error();
  if (community.keys_file().empty())
    return make_error(errc::invalid_argument, key->community_id()
                                                + " is encrypted but names no keys file");
  auto cipher = open_archive_cipher(key->community_id(), community.keys_file(), archive_root);
  if (!cipher)
    return cipher.error();
  return std::shared_ptr<const archive_cipher>(std::move(*cipher));
}

std::string missing_key_setting(const std::string& community_id) {
  return "hash_ratchet.missing_key." + community_id;
}

} // namespace annals
