// `annals magnetlink encode|decode` as a user runs it.
#include "core/identity.hpp"
#include "core/keccak.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

using namespace annals;
using annals::test::run_annals;
using annals::test::trim;

namespace {

const std::string magnet =
  "'magnet:?xt=urn:btih:3ccd0e3ac8e3e0e27d4f1d7b8d1f0b3a9c6e2f10&dn=annals'";

struct signed_link {
  test::temp_dir dir{"annals-magnetlink"};
  private_key key = private_key::generate();
  std::string hex;

  signed_link() {
    auto key_file = dir / "community.key";
    REQUIRE(key.save(key_file));
    auto r = run_annals("magnetlink encode --community-key " + key_file.string() + " --magnet "
                          + magnet + " --clock 1729750000123",
                        dir);
    INFO(r.err);
    REQUIRE(r.code == 0);
    hex = trim(r.out);
  }
};

/// `hex` with the byte at `index` XORed with `mask`.
std::string flip_byte(const std::string& hex, std::size_t index, unsigned mask) {
  auto bytes = *from_hex(hex);
  bytes[index] = static_cast<char>(bytes[index] ^ mask);
  return to_hex(bytes);
}

// L1 starts `0a 41` + the 65-byte signature: R at 2..33, S at 34..65, V at 66.
constexpr std::size_t signature_s = 2 + 32;
constexpr std::size_t signature_v = 2 + 64;

} // namespace

TEST_CASE("magnetlink encode then decode recovers the key file's community", "[cli]") {
  signed_link link;
  auto r = run_annals("magnetlink decode " + link.hex, link.dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto decoded = nlohmann::json::parse(r.out);
  CHECK(decoded["community_id"] == link.key.public_key().community_id());
  CHECK(decoded["clock"] == 1729750000123ull);
  CHECK(decoded["magnet_uri"] == "magnet:?xt=urn:btih:3ccd0e3ac8e3e0e27d4f1d7b8d1f0b3a9c6e2f10"
                                 "&dn=annals");
  auto bytes = *from_hex(link.hex);
  auto key = link.key.public_key().uncompressed();
  CHECK(decoded["message_id"] == to_hex0x(keccak256(std::string(as_view(key)) + bytes)));

  auto pinned = run_annals("magnetlink decode " + link.hex + " --community "
                             + link.key.public_key().community_id(),
                           link.dir);
  CHECK(pinned.code == 0);
}

TEST_CASE("magnetlink decode exits 1 on a bad signature", "[cli]") {
  signed_link link;
  auto bad_v = run_annals("magnetlink decode " + flip_byte(link.hex, signature_v, 0x80), link.dir);
  CHECK(bad_v.code == 1);
  CHECK(bad_v.err.find("L1: signature") != std::string::npos);

  // A changed S still recovers a key, just not the community's: only pinning
  // the community catches it.
  auto bad_s = run_annals("magnetlink decode " + flip_byte(link.hex, signature_s, 0x01)
                            + " --community " + link.key.public_key().community_id(),
                          link.dir);
  CHECK(bad_s.code == 1);
  CHECK(bad_s.err.find("signed by") != std::string::npos);
}

TEST_CASE("magnetlink decode exits 2 on bytes that do not parse", "[cli]") {
  test::temp_dir dir;
  auto not_hex = run_annals("magnetlink decode zz-not-hex", dir);
  CHECK(not_hex.code == 2);
  CHECK(not_hex.err.find("not hexadecimal") != std::string::npos);
  auto not_protobuf = run_annals("magnetlink decode deadbeef", dir);
  CHECK(not_protobuf.code == 2);
  CHECK(not_protobuf.err.find("ApplicationMetadataMessage") != std::string::npos);
  auto no_key = run_annals("magnetlink encode --community-key " + (dir / "missing").string()
                             + " --magnet " + magnet,
                           dir);
  CHECK(no_key.code == 2);
}
