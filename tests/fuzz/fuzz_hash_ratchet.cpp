// Token-gated bytes: a hash-ratchet wrapped archive or index, and status-go's
// encryption_keys_v2 blob (`annals hrkey import`).
#include "core/hash_ratchet.hpp"
#include "tests/fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace annals;
  static const hr_keyring keys = [] {
    hr_keyring k;
    hr_key key;
    key.group_id = std::string(33, '\x02');
    key.timestamp_ms = 1700000000000;
    key.key.fill(0x11);
    k.add(key);
    return k;
  }();
  auto bytes = fuzz::view(data, size);
  (void)is_hash_ratchet_message(bytes);
  (void)hr_open(bytes, keys);
  (void)parse_hr_key_blob(bytes);
  return 0;
}
