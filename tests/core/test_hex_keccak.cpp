#include "core/hex.hpp"
#include "core/keccak.hpp"

#include <catch2/catch.hpp>

using namespace annals;

TEST_CASE("hex round trip and rejection of bad input", "[hex]") {
  std::string bytes("\x00\x01\xab\xff", 4);
  CHECK(to_hex(bytes) == "0001abff");
  CHECK(to_hex0x(bytes) == "0x0001abff");
  CHECK(from_hex("0x0001ABff") == bytes);
  CHECK(from_hex("0001abff") == bytes);
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
  CHECK(from_hex_fixed<2>("0xabcd"));
  CHECK_FALSE(from_hex_fixed<3>("0xabcd"));
}

TEST_CASE("base64 is strict", "[hex]") {
  CHECK(to_base64("hello") == "aGVsbG8=");
  CHECK(from_base64("aGVsbG8=") == std::string("hello"));
  CHECK(from_base64("") == std::string());
  CHECK_FALSE(from_base64("aGVsbG8"));      // length not a multiple of 4
  CHECK_FALSE(from_base64("aGV$bG8="));     // character outside the alphabet
  CHECK_FALSE(from_base64("aG=sbG8="));     // padding in the middle
}

TEST_CASE("keccak256 is Ethereum's Keccak, not SHA3-256", "[keccak]") {
  // Well-known vectors: keccak256("") and keccak256("abc").
  CHECK(to_hex(keccak256("")) == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  CHECK(to_hex(keccak256("abc")) == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  CHECK(to_hex(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
