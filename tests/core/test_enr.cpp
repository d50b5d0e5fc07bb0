#include "core/enr.hpp"
#include "core/hex.hpp"
#include "core/keccak.hpp"
#include "core/rlp.hpp"
#include "tests/enr_vectors.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <deque>

using namespace annals;
using namespace std::string_literals;

namespace {

// EIP-778's example record and the key that signed it.
const std::string eip778_text =
  "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wB"
  "gmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
const std::string eip778_key = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";

std::string bytes_of(const std::string& hex_text) { return *from_hex(hex_text); }

private_key eip778_private_key() { return *private_key::from_bytes(bytes_of(eip778_key)); }

// A record re-encoded with its items changed, signed again by `key`.
std::string signed_record(const private_key& key, const std::string& seq_and_pairs) {
  // The pairs given are signed as [seq, k, v, ...].
  auto digest = keccak256(rlp::encode_list(seq_and_pairs));
  auto sig = key.sign_compact(digest);
  return rlp::encode_list(rlp::encode_bytes(as_view(sig)) + seq_and_pairs);
}

std::string pair(const std::string& k, const std::string& v) {
  return rlp::encode_bytes(k) + rlp::encode_bytes(v);
}

} // namespace

TEST_CASE("RLP refuses every non-canonical form", "[core][enr]") {
  // The item's payload views the bytes it was taken from, so they outlive it.
  std::deque<std::string> inputs;
  auto take = [&inputs](const std::string& hex_text) {
    std::string_view in(inputs.emplace_back(bytes_of(hex_text)));
    return rlp::take_item(in);
  };
  CHECK(take("83646f67")->payload == "dog");
  CHECK(take("c0")->list);
  CHECK(take("7f")->payload == "\x7f");
  CHECK_FALSE(take("817f"));        // a byte below 0x80 given a prefix
  CHECK_FALSE(take("b80100"));      // long form for 1 byte
  CHECK_FALSE(take("b9000100"));    // length with a leading zero
  CHECK_FALSE(take("8364"));        // truncated
  CHECK_FALSE(take(""));
  CHECK(rlp::encode_uint(0) == "\x80");
  CHECK(rlp::encode_uint(1024) == bytes_of("820400"));
  CHECK_FALSE(rlp::decode_uint(bytes_of("0001")));
  CHECK_FALSE(rlp::decode_uint(std::string(9, '\x01')));
  std::string long_string(60, 'a');
  auto encoded = rlp::encode_bytes(long_string);
  CHECK(encoded.substr(0, 2) == bytes_of("b83c"));
  std::string_view in(encoded);
  CHECK(rlp::take_item(in)->payload == long_string);
}

TEST_CASE("EIP-778's example record decodes, verifies and is what annals signs", "[core][enr]") {
  auto record = parse_enr(eip778_text);
  INFO((record ? std::string() : record.error().to_string()));
  REQUIRE(record);
  CHECK(record->seq == 1);
  CHECK(to_hex(record->node_id())
        == "a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7");
  CHECK(record->key == eip778_private_key().public_key());
  REQUIRE(record->fields.ip);
  CHECK(*record->fields.ip == std::array<std::uint8_t, 4>{127, 0, 0, 1});
  CHECK(record->fields.udp == 30303);
  CHECK_FALSE(record->fields.tcp);
  CHECK(record->text() == eip778_text);

  // RFC 6979 nonces: the same key and content give EIP-778's very bytes.
  enr_fields fields;
  fields.ip = std::array<std::uint8_t, 4>{127, 0, 0, 1};
  fields.udp = 30303;
  auto made = make_enr(eip778_private_key(), 1, fields);
  REQUIRE(made);
  CHECK(made->text() == eip778_text);
}

TEST_CASE("records from js-waku's tests decode to the values they state", "[core][enr]") {
  // ip and tcp (peer 16Uiu2HAmPLe7Mzm8TsYUubgCAW1aJoeFScxrLj8ppHFivPo97bUZ).
  auto tcp = parse_enr(
    test::js_waku_tcp_enr);
  REQUIRE(tcp);
  CHECK(*tcp->fields.ip == std::array<std::uint8_t, 4>{134, 209, 139, 210});
  CHECK(tcp->fields.tcp == 30303);

  // An Ethereum consensus record: unknown keys are kept as they were.
  auto eth2 = parse_enr(
    "enr:-Ku4QMh15cIjmnq-co5S3tYaNXxDzKTgj0ufusA-QfZ66EWHNsULt2kb0eTHoo1Dkjvvf6CAHDS1Di-htjiPFZzaIPcLh2F0"
    "dG5ldHOIAAAAAAAAAACEZXRoMpD2d10HAAABE________x8AgmlkgnY0gmlwhHZFkMSJc2VjcDI1NmsxoQIWSDEWdHwdEA3Lw2B"
    "_byeFQOINTZ0GdtF9DBjes6JqtIN1ZHCCIyg");
  REQUIRE(eth2);
  auto found = std::find_if(eth2->pairs.begin(), eth2->pairs.end(),
                            [](const auto& p) { return p.first == "eth2"; });
  REQUIRE(found != eth2->pairs.end());
  CHECK(found->second == rlp::encode_bytes(bytes_of("f6775d0700000113ffffffffffff1f00")));

  // The shared Waku vector: three multiaddrs (dns4, dns6, onion3).
  auto waku = parse_enr(
    test::js_waku_multiaddrs_enr);
  INFO((waku ? std::string() : waku.error().to_string()));
  REQUIRE(waku);
  REQUIRE(waku->fields.multiaddrs.size() == 3);
  // /dns4/node-01.do-ams3.wakuv2.test.statusim.net/tcp/443/wss
  CHECK(waku->fields.multiaddrs[0].substr(0, 2) == bytes_of("3628"));

  // A record whose key is spelled "secp256d1" has no key to verify with.
  auto keyless = parse_enr(
    "enr:-IS4QJ2d11eu6dC7E7LoXeLMgMP3kom1u3SE8esFSWvaHoo0dP1jg8O3-nx9ht-EO3CmG7L6OkHcMmoIh00IYWB92QABgmlkg"
    "nY0gmlwhH8AAAGJc2d11eu6dCsxoQIB_c-jQMOXsbjWkbN-kj99H57gfId5pfb4wa1qxwV4CIN1ZHCCIyk");
  REQUIRE_FALSE(keyless);
  CHECK_THAT(keyless.error().message, Catch::Contains("`secp256k1`: missing"));
}

TEST_CASE("a Waku record built by annals round-trips every field", "[core][enr]") {
  auto key = private_key::generate();
  enr_fields fields;
  fields.ip = std::array<std::uint8_t, 4>{10, 0, 0, 7};
  fields.tcp = 60000;
  fields.udp = 9000;
  fields.ip6 = std::array<std::uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8};
  fields.tcp6 = 1;
  fields.waku2 = waku2_relay | waku2_store;
  fields.multiaddrs = {bytes_of("047f0000010601bbdd03")};  // /ip4/127.0.0.1/tcp/443/ws
  fields.shards = relay_shards{16, {64, 1, 32}};
  auto made = make_enr(key, 7, fields);
  REQUIRE(made);
  auto back = parse_enr(made->text());
  REQUIRE(back);
  CHECK(back->seq == 7);
  CHECK(back->key == key.public_key());
  CHECK(back->fields.ip == fields.ip);
  CHECK(back->fields.tcp == 60000);
  CHECK(back->fields.udp == 9000);
  CHECK(back->fields.ip6 == fields.ip6);
  CHECK(back->fields.tcp6 == 1);
  CHECK(back->fields.waku2 == 3);
  CHECK(back->fields.multiaddrs == fields.multiaddrs);
  REQUIRE(back->fields.shards);
  CHECK(back->fields.shards->cluster == 16);
  CHECK(back->fields.shards->shards == std::vector<std::uint16_t>{1, 32, 64});
  CHECK(std::any_of(back->pairs.begin(), back->pairs.end(),
                    [](const auto& p) { return p.first == "rs"; }));

  // 64 shards or more go into the bit vector, high bit first.
  enr_fields many;
  many.shards = relay_shards{1, {}};
  for (std::uint16_t s = 0; s < 70; ++s)
    many.shards->shards.push_back(static_cast<std::uint16_t>(s * 3));
  auto vector = make_enr(key, 1, many);
  REQUIRE(vector);
  auto rsv = std::find_if(vector->pairs.begin(), vector->pairs.end(),
                          [](const auto& p) { return p.first == "rsv"; });
  REQUIRE(rsv != vector->pairs.end());
  CHECK(static_cast<std::uint8_t>(rsv->second[2 + 2]) == 0x80 + (0x80 >> 3) + (0x80 >> 6));
  CHECK(vector->fields.shards->shards == many.shards->shards);

  enr_fields past_last;
  past_last.shards = relay_shards{1, {1024}};
  CHECK_FALSE(make_enr(key, 1, past_last));
  enr_fields crowded;
  crowded.multiaddrs.assign(20, std::string(20, '\x04'));
  auto too_big = make_enr(key, 1, crowded);
  REQUIRE_FALSE(too_big);
  CHECK_THAT(too_big.error().message, Catch::Contains("more than 300"));
}

TEST_CASE("records that do not verify or parse are refused naming the field", "[core][enr]") {
  auto key = eip778_private_key();
  auto pub = std::string(as_view(key.public_key().compressed()));
  auto base = [&](const std::string& extra) {
    return pair("id", "v4") + extra + pair("secp256k1", pub);
  };
  auto message = [](const result<enr_record>& r) { return r ? std::string() : r.error().message; };

  auto good = decode_enr(signed_record(key, rlp::encode_uint(1) + base(pair("ip", "\x7f\0\0\1"s))));
  CHECK(good);

  // One bit of the signature flipped.
  auto record = *parse_enr(eip778_text);
  auto bytes = record.encoded;
  bytes[5] ^= 1;
  auto flipped = decode_enr(bytes);
  REQUIRE_FALSE(flipped);
  CHECK(flipped.error().code == errc::verification_failed);
  CHECK_THAT(message(flipped), Catch::Contains("`signature`"));
  // Content changed after signing: seq 1 -> 2.
  auto resigned = signed_record(key, rlp::encode_uint(1) + base(pair("ip", "\x7f\0\0\1"s)));
  auto replaced = resigned;
  auto at = replaced.find(rlp::encode_uint(1) + rlp::encode_bytes("id"));
  REQUIRE(at != std::string::npos);
  replaced[at] = '\x02';
  CHECK(decode_enr(replaced).error().code == errc::verification_failed);

  CHECK_THAT(message(decode_enr(signed_record(key, rlp::encode_uint(1) + base(pair("ip", "\x7f\0\1"s))))),
             Catch::Contains("`ip`: 3 bytes, not 4"));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("id", "v4") + pair("ip", "\x7f\0\0\1"s)
                      + pair("secp256k1", pub) + pair("tcp", "\x01\x00\x00"s)))),
             Catch::Contains("`tcp`: 65536 is not a port"));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("id", "v4") + pair("secp256k1", pub)
                      + pair("tcp", "\x00\x50"s)))),
             Catch::Contains("`tcp`: rlp: integer with a leading zero"));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("secp256k1", pub) + pair("id", "v4")))),
             Catch::Contains("`id`: out of order"));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("id", "v4") + pair("id", "v4")
                      + pair("secp256k1", pub)))),
             Catch::Contains("`id`: given twice"));
  CHECK_THAT(message(decode_enr(signed_record(key, rlp::encode_uint(1) + pair("id", "v5")
                                                     + pair("secp256k1", pub)))),
             Catch::Contains("not \"v4\""));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("id", "v4") + pair("rs", "\0\x10\x01\0\x01"s)
                      + pair("rsv", std::string(130, '\0')) + pair("secp256k1", pub)))),
             Catch::Contains("a record carries one of them"));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("id", "v4") + pair("rs", "\0\x10\x02\0\x01"s)
                      + pair("secp256k1", pub)))),
             Catch::Contains("`rs`: 2 shards need 7 bytes, not 5"));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("id", "v4") + pair("multiaddrs", "\0\x09\x04"s)
                      + pair("secp256k1", pub)))),
             Catch::Contains("`multiaddrs`: an entry of 9 bytes"));
  CHECK_THAT(message(decode_enr(signed_record(
               key, rlp::encode_uint(1) + pair("id", "v4") + pair("secp256k1", pub)
                      + pair("waku2", "\x01\x02")))),
             Catch::Contains("`waku2`: 2 bytes, not 1"));

  // Over 300 bytes, as text and as RLP; not base64url; not a record.
  auto padded = signed_record(key, rlp::encode_uint(1) + base(pair("junk", std::string(300, 'x'))));
  CHECK_THAT(message(decode_enr(padded)), Catch::Contains("more than 300"));
  CHECK_THAT(message(parse_enr("enr:" + to_base64url(padded))), Catch::Contains("longer than 300"));
  CHECK_THAT(message(parse_enr("enr:a+b/")), Catch::Contains("base64url"));
  CHECK_THAT(message(parse_enr("enode:abc")), Catch::Contains("\"enr:\""));
  CHECK_THAT(message(decode_enr(rlp::encode_bytes("x"))), Catch::Contains("not an RLP list"));
  CHECK_THAT(message(decode_enr(rlp::encode_list(rlp::encode_bytes("x")))),
             Catch::Contains("has 1 items"));
}

TEST_CASE("base64url and base32 codecs are strict", "[core][enr]") {
  CHECK(to_base64url("\xfb\xff") == "-_8");
  CHECK(*from_base64url("-_8") == "\xfb\xff");
  CHECK_FALSE(from_base64url("+/8"));
  CHECK_FALSE(from_base64url("-_8="));
  CHECK_FALSE(from_base64url("A"));
  CHECK(to_base32("foobar") == "MZXW6YTBOI");
  CHECK(*from_base32("MZXW6YTBOI") == "foobar");
  CHECK(*from_base32("mzxw6ytboi") == "foobar");
  CHECK_FALSE(from_base32("MZXW6YTBOJ"));  // non-zero bits past the last byte
  CHECK_FALSE(from_base32("MZX"));
  CHECK_FALSE(from_base32("MZ1"));
}
