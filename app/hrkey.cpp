// `annals hrkey new|import`: the hash-ratchet keys of token-gated
// communities, in a keys file of JSON lines (mode 0600, only ever appended
// to, since archives written under an old key keep needing it).
#include "app/commands.hpp"
#include "core/hash_ratchet.hpp"
#include "core/identity.hpp"

#include <chrono>
#include <fstream>
#include <iterator>

namespace annals::app {

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
}

hr_keyring held_keys(const std::string& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return {};
  return take(load_hr_keys(file));
}

} // namespace

void add_hrkey_commands(CLI::App& app) {
  auto* hrkey = app.add_subcommand(
    "hrkey", "Hash-ratchet keys of token-gated communities, whose archives status-go encrypts");
  hrkey->require_subcommand(1);

  auto community = std::make_shared<std::string>();
  auto keys = std::make_shared<std::string>();
  auto* fresh = hrkey->add_subcommand(
    "new", "Append a fresh key of a community to a keys file and print its key ID; later "
           "archives and indexes are encrypted with it");
  fresh->add_option("--community", *community, "Community ID (0x + 66 hex)")->required();
  fresh->add_option("--keys", *keys, "Keys file (created with mode 0600, only appended to)")
    ->required();
  fresh->callback([community, keys] {
    auto key = public_key::from_community_id(*community);
    if (!key || key->community_id() != *community)
      fail(make_error(errc::invalid_argument, *community + " is not a community ID"),
           exit_bad_input);
    auto group = std::string(as_view(key->compressed()));
    auto made = make_hr_key(group, now_ms(), held_keys(*keys));
    take(append_hr_keys(*keys, {made}));
    std::cout << to_hex(made.key_id()) << "\n";
  });

  auto import_keys = std::make_shared<std::string>();
  auto hex = std::make_shared<std::string>();
  auto blob_file = std::make_shared<std::string>();
  auto* import = hrkey->add_subcommand(
    "import", "Append the keys of a status-go encryption_keys_v2 blob (a serialized HRHeader, "
              "as a Status control node exports them) and print their key IDs");
  import->add_option("--keys", *import_keys, "Keys file")->required();
  auto* by_hex = import->add_option("--hex", *hex, "The blob as hex");
  auto* by_file = import->add_option("--file", *blob_file, "A file holding the blob's bytes");
  by_hex->excludes(by_file);
  import->callback([import_keys, hex, blob_file] {
    std::string blob;
    if (!hex->empty()) {
      auto bytes = from_hex(*hex);
      if (!bytes)
        fail(make_error(errc::invalid_argument, "--hex is not hex"), exit_bad_input);
      blob = std::move(*bytes);
    } else if (!blob_file->empty()) {
      std::ifstream in(*blob_file, std::ios::binary);
      if (!in)
        fail(make_error(errc::not_found, *blob_file + ": cannot be read"), exit_bad_input);
      blob.assign(std::istreambuf_iterator<char>(in), {});
    } else {
      fail(make_error(errc::invalid_argument, "name the blob with --hex or --file"),
           exit_bad_input);
    }
    auto parsed = take(parse_hr_key_blob(blob), "key blob");
    auto added = take(append_hr_keys(*import_keys, parsed));
    std::cerr << "added " << added << " of " << parsed.size() << " keys to " << *import_keys
              << "\n";
    for (const auto& key : parsed)
      std::cout << to_hex(key.key_id()) << "\n";
  });
}

} // namespace annals::app
