// discv5's wire format against the test vectors of ethereum/devp2p's
// discv5-wire-test-vectors.md (protocol ID "discv5", as the vectors use).
#include "core/discv5_wire.hpp"
#include "core/hex.hpp"
#include "core/keccak.hpp"

#include <catch2/catch.hpp>

using namespace annals;
using namespace annals::discv5;

namespace {

std::string hex(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)))
      clean.push_back(c);
  if (clean.rfind("0x", 0) == 0)
    clean.erase(0, 2);
  auto out = from_hex(clean);
  REQUIRE(out);
  return *out;
}

template <std::size_t N>
std::array<std::uint8_t, N> fixed(std::string_view text) {
  auto bytes = hex(text);
  REQUIRE(bytes.size() == N);
  std::array<std::uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(out.data()));
  return out;
}

private_key key(std::string_view text) {
  auto k = private_key::from_bytes(hex(text));
  REQUIRE(k);
  return *k;
}

node_id id_of_key(const private_key& k) {
  auto raw = k.public_key().uncompressed();
  return keccak256(std::string_view(reinterpret_cast<const char*>(raw.data()) + 1, 64));
}

const auto node_a_key = "eef77acb6c6a6eebc5b363a475ac583ec7eccdb42b6481424c60f59aa326547f";
const auto node_b_key = "66fb62bfbd66b9177a138c1e5cddbe4f7c30c343e94e68df8769459cb1cde628";
const auto node_a_id = "aaaa8419e9f49d0083561b48287df592939a8d19947d8c0ef88f2a4856a69fbb";
const auto node_b_id = "bbbb9d047f0488c0b5a93c1c3f2d8bafc7c8ff337024a55434a0d0555de64db9";

const auto ping_packet = R"(
    00000000000000000000000000000000088b3d4342774649325f313964a39e55
    ea96c005ad52be8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d3
    4c4f53245d08dab84102ed931f66d1492acb308fa1c6715b9d139b81acbdcc)";

const auto whoareyou_packet = R"(
    00000000000000000000000000000000088b3d434277464933a1ccc59f5967ad
    1d6035f15e528627dde75cd68292f9e6c27d6b66c8100a873fcbaed4e16b8d)";

const auto handshake_packet = R"(
    00000000000000000000000000000000088b3d4342774649305f313964a39e55
    ea96c005ad521d8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d3
    4c4f53245d08da4bb252012b2cba3f4f374a90a75cff91f142fa9be3e0a5f3ef
    268ccb9065aeecfd67a999e7fdc137e062b2ec4a0eb92947f0d9a74bfbf44dfb
    a776b21301f8b65efd5796706adff216ab862a9186875f9494150c4ae06fa4d1
    f0396c93f215fa4ef524f1eadf5f0f4126b79336671cbcf7a885b1f8bd2a5d83
    9cf8)";

const auto handshake_enr_packet = R"(
    00000000000000000000000000000000088b3d4342774649305f313964a39e55
    ea96c005ad539c8c7560413a7008f16c9e6d2f43bbea8814a546b7409ce783d3
    4c4f53245d08da4bb23698868350aaad22e3ab8dd034f548a1c43cd246be9856
    2fafa0a1fa86d8e7a3b95ae78cc2b988ded6a5b59eb83ad58097252188b902b2
    1481e30e5e285f19735796706adff216ab862a9186875f9494150c4ae06fa4d1
    f0396c93f215fa4ef524e0ed04c3c21e39b1868e1ca8105e585ec17315e755e6
    cfc4dd6cb7fd8e1a1f55e49b4b5eb024221482105346f3c82b15fdaae36a3bb1
    2a494683b4a3c7f2ae41306252fed84785e2bbff3b022812d0882f06978df84a
    80d443972213342d04b9048fc3b1d5fcb1df0f822152eced6da4d3f6df27e70e
    4539717307a0208cd208d65093ccab5aa596a34d7511401987662d8cf62b1394
    71)";

const auto challenge_seq0 =
  "000000000000000000000000000000006469736376350001010102030405060708090a0b0c0018010203040506"
  "0708090a0b0c0d0e0f100000000000000000";
const auto challenge_seq1 =
  "000000000000000000000000000000006469736376350001010102030405060708090a0b0c0018010203040506"
  "0708090a0b0c0d0e0f100000000000000001";

} // namespace

TEST_CASE("discv5: the spec's node keys give the spec's node IDs", "[discv5]") {
  CHECK(to_hex(id_of_key(key(node_a_key))) == node_a_id);
  CHECK(to_hex(id_of_key(key(node_b_key))) == node_b_id);
}

TEST_CASE("discv5: the spec's ping message packet decodes, opens and re-encodes byte for byte",
          "[discv5]") {
  auto b = fixed<32>(node_b_id);
  auto p = decode_packet(ethereum_protocol_id, b, hex(ping_packet));
  REQUIRE(p);
  CHECK(p->kind == packet_kind::message);
  CHECK(to_hex(p->nonce) == "ffffffffffffffffffffffff");
  CHECK(to_hex(message_source(*p)) == node_a_id);
  auto pt = open(key128{}, p->nonce, p->sealed, p->associated_data());
  REQUIRE(pt);
  auto m = decode_message(*pt);
  REQUIRE(m);
  REQUIRE(std::holds_alternative<ping>(*m));
  CHECK(to_hex(std::get<ping>(*m).id) == "00000001");
  CHECK(std::get<ping>(*m).enr_seq == 2);
  // And back: the same plaintext, header and IV make the same datagram.
  CHECK(encode_message(*m) == *pt);
  auto header = make_header(ethereum_protocol_id, packet_kind::message, p->nonce,
                            message_authdata(fixed<32>(node_a_id)));
  CHECK(header == p->header);
  auto sealed = seal(key128{}, p->nonce, *pt, p->associated_data());
  CHECK(encode_packet(b, p->iv, header, sealed) == hex(ping_packet));
  // Read by anyone else it is noise: the protocol ID does not unmask.
  CHECK_FALSE(decode_packet(ethereum_protocol_id, fixed<32>(node_a_id), hex(ping_packet)));
  // Nor does Waku's protocol ID accept Ethereum's packets.
  CHECK_FALSE(decode_packet(waku_protocol_id, b, hex(ping_packet)));
}

TEST_CASE("discv5: the spec's WHOAREYOU packet decodes to its challenge", "[discv5]") {
  auto b = fixed<32>(node_b_id);
  auto p = decode_packet(ethereum_protocol_id, b, hex(whoareyou_packet));
  REQUIRE(p);
  CHECK(p->kind == packet_kind::whoareyou);
  CHECK(to_hex(p->nonce) == "0102030405060708090a0b0c");
  auto auth = parse_whoareyou(*p);
  CHECK(to_hex(auth.nonce) == "0102030405060708090a0b0c0d0e0f10");
  CHECK(auth.enr_seq == 0);
  CHECK(to_hex(p->associated_data()) == challenge_seq0);
  auto header = make_header(ethereum_protocol_id, packet_kind::whoareyou, p->nonce,
                            whoareyou_authdata(auth));
  CHECK(encode_packet(b, p->iv, header, "") == hex(whoareyou_packet));
}

TEST_CASE("discv5: the spec's handshake packets verify and open with the derived keys",
          "[discv5]") {
  auto b_key = key(node_b_key);
  auto b = fixed<32>(node_b_id);
  auto a_pub = key(node_a_key).public_key();
  auto [packet_hex, challenge, read_key, with_record] = GENERATE(
    std::make_tuple(handshake_packet, challenge_seq1, "4f9fac6de7567d1e3b1241dffe90f662", false),
    std::make_tuple(handshake_enr_packet, challenge_seq0, "53b1c075f41876423154e157470c2f48",
                    true));
  auto p = decode_packet(ethereum_protocol_id, b, hex(packet_hex));
  REQUIRE(p);
  CHECK(p->kind == packet_kind::handshake);
  auto auth = parse_handshake(*p);
  REQUIRE(auth);
  CHECK(to_hex(auth->src) == node_a_id);
  CHECK(to_hex(auth->ephemeral_key)
        == "039a003ba6517b473fa0cd74aefe99dadfdb34627f90fec6362df85803908f53a5");
  CHECK(auth->record.empty() == !with_record);
  if (with_record) {
    auto record = decode_enr(auth->record);
    REQUIRE(record);
    CHECK(record->key == a_pub);
    CHECK(to_hex(record->node_id()) == node_a_id);
  }
  // B's side of the handshake: the identity proof by A's static key, then
  // the keys from B's static key and A's ephemeral key.
  auto challenge_data = hex(challenge);
  CHECK(verify_compact_any_s(a_pub, id_proof_digest(challenge_data, auth->ephemeral_key, b),
                             auth->id_signature));
  auto eph = public_key::parse(auth->ephemeral_key);
  REQUIRE(eph);
  auto keys = derive_keys(ecdh_compressed(b_key, *eph), auth->src, b, challenge_data);
  CHECK(to_hex(keys.initiator) == read_key);
  auto pt = open(keys.initiator, p->nonce, p->sealed, p->associated_data());
  REQUIRE(pt);
  auto m = decode_message(*pt);
  REQUIRE(m);
  REQUIRE(std::holds_alternative<ping>(*m));
  CHECK(std::get<ping>(*m).enr_seq == 1);
  // A wrong key, or one flipped header byte, and nothing opens.
  CHECK_FALSE(open(keys.recipient, p->nonce, p->sealed, p->associated_data()));
  auto ad = p->associated_data();
  ad[20] ^= 1;
  CHECK_FALSE(open(keys.initiator, p->nonce, p->sealed, ad));
}

TEST_CASE("discv5: the spec's ECDH, key derivation, id signature and AES-GCM vectors",
          "[discv5]") {
  auto secret_key = key("fb757dc581730490a1d7a00deea65e9b1936924caaea8f44d476014856b68736");
  auto pub = public_key::parse(
    hex("039961e4c2356d61bedb83052c115d311acb3a96f5777296dcf297351130266231"));
  REQUIRE(pub);
  CHECK(to_hex(ecdh_compressed(secret_key, *pub))
        == "033b11a2a1f214567e1537ce5e509ffd9b21373247f2a3ff6841f4976f53165e7e");

  auto dest = public_key::parse(
    hex("0317931e6e0840220642f230037d285d122bc59063221ef3226b1f403ddc69ca91"));
  REQUIRE(dest);
  auto keys = derive_keys(ecdh_compressed(secret_key, *dest), fixed<32>(node_a_id),
                          fixed<32>(node_b_id), hex(challenge_seq0));
  CHECK(to_hex(keys.initiator) == "dccc82d81bd610f4f76d3ebe97a40571");
  CHECK(to_hex(keys.recipient) == "ac74bb8773749920b0d3a8881c173ec5");

  auto digest = id_proof_digest(
    hex(challenge_seq0), hex("039961e4c2356d61bedb83052c115d311acb3a96f5777296dcf297351130266231"),
    fixed<32>(node_b_id));
  auto sig = secret_key.sign_compact(digest);
  CHECK(to_hex(sig)
        == "94852a1e2318c4e5e9d422c98eaf19d1d90d876b29cd06ca7cb7546d0fff7b48"
           "4fe86c09a064fe72bdbef73ba8e9c34df0cd2b53e9d65528c2c7f336d5dfc6e6");
  CHECK(verify_compact_any_s(secret_key.public_key(), digest,
                             std::string_view(reinterpret_cast<const char*>(sig.data()), 64)));

  auto sealed = seal(fixed<16>("9f2d77db7004bf8a1a85107ac686990b"),
                     fixed<12>("27b5af763c446acd2749fe8e"), hex("01c20101"),
                     hex("93a7400fa0d6a694ebc24d5cf570f65d04215b6ac00757875e3f3a5f42107903"));
  CHECK(to_hex(sealed) == "a5d12a2d94b8ccb3ba55558229867dc13bfa3648");
}

TEST_CASE("discv5: every message type round-trips and bad bodies are refused by name",
          "[discv5]") {
  std::vector<message> all{
    ping{"\x01\x02", 7},
    pong{"\x05", 9, std::string("\x7f\x00\x00\x01", 4), 9000},
    findnode{std::string("\x00\x00\x00\x01", 4), {0, 1, 255, 256}},
    nodes{"\x09", 2, {std::string("\xc1\x80", 2)}},
    talkreq{"\x01", "disc", "hello"},
    talkresp{"\x01", ""},
  };
  for (const auto& m : all) {
    auto back = decode_message(encode_message(m));
    REQUIRE(back);
    CHECK(back->index() == m.index());
    CHECK(encode_message(*back) == encode_message(m));
  }
  auto refused = [](std::string bytes, std::string_view says) {
    auto r = decode_message(bytes);
    REQUIRE_FALSE(r);
    CAPTURE(r.error().message);
    CHECK(r.error().message.find(says) != std::string::npos);
  };
  refused("", "empty message");
  refused(std::string("\x09\xc0", 2), "unknown message type 9");
  // A request ID of 9 bytes.
  refused(encode_message(ping{std::string(9, 'x'), 1}), "over 8");
  // FINDNODE distance 257.
  refused(std::string("\x03\xc5\x01\xc3\x82\x01\x01", 7), "distance 257");
  // Trailing bytes after the list.
  refused(encode_message(ping{"\x01", 1}) + "x", "after the message body");
  // PONG with a 5-byte IP.
  refused(encode_message(pong{"\x01", 1, "12345", 1}), "recipient-ip of 5 bytes");
}

TEST_CASE("discv5: packets too short, too long, of another version or with overlong authdata "
          "are refused",
          "[discv5]") {
  auto b = fixed<32>(node_b_id);
  auto raw = hex(ping_packet);
  CHECK_FALSE(decode_packet(ethereum_protocol_id, b, raw.substr(0, 62)));
  CHECK_FALSE(decode_packet(ethereum_protocol_id, b, raw + std::string(1300, '\0')));
  // Re-mask a header that claims more authdata than the packet holds.
  auto p = decode_packet(ethereum_protocol_id, b, raw);
  REQUIRE(p);
  auto header = p->header;
  header[21] = '\x04';
  auto forged = encode_packet(b, p->iv, header, p->sealed);
  auto r = decode_packet(ethereum_protocol_id, b, forged);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("runs past the packet") != std::string::npos);
  header = p->header;
  header[7] = '\x02';  // version 2
  r = decode_packet(ethereum_protocol_id, b, encode_packet(b, p->iv, header, p->sealed));
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("version 2") != std::string::npos);
}

TEST_CASE("discv5: log distance, closeness and NODES splitting", "[discv5]") {
  node_id a{}, b{};
  CHECK(log_distance(a, b) == 0);
  b[31] = 1;
  CHECK(log_distance(a, b) == 1);
  b[0] = 0x80;
  CHECK(log_distance(a, b) == 256);
  node_id c{};
  c[1] = 0x01;
  CHECK(log_distance(a, c) == 241);
  CHECK(closer(a, c, b));
  CHECK_FALSE(closer(a, b, c));
  CHECK(same_request(std::string("\x00\x00\x00\x01", 4), "\x01"));
  CHECK_FALSE(same_request("\x02", "\x01"));

  CHECK(split_nodes("\x01", {}).size() == 1);
  CHECK(split_nodes("\x01", {}).front().records.empty());
  auto seven = split_nodes("\x01", std::vector<std::string>(7, "x"));
  REQUIRE(seven.size() == 3);
  CHECK(seven[0].total == 3);
  CHECK(seven[2].records.size() == 1);
}
