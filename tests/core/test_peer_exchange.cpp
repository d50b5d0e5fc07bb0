#include "core/enr.hpp"
#include "core/peer_exchange.hpp"
#include "proto/peer_exchange.pb.h"

#include <catch2/catch.hpp>

using namespace annals;

TEST_CASE("peer exchange: queries and answers round-trip with the spec's field numbers",
          "[core][px]") {
  auto query = encode_px_query(12);
  // PeerExchangeRPC.query (field 1, length-delimited) { num_peers (field 1, varint) = 12 }
  CHECK(query == std::string("\x0a\x02\x08\x0c", 4));
  auto asked = decode_px_query(query);
  REQUIRE(asked);
  CHECK(*asked == 12);

  px_answer answer;
  answer.status = std::uint32_t(px_status::success);
  answer.records = {"\xc0 one", "\xc0 two"};
  auto bytes = encode_px_answer(answer);
  waku::PeerExchangeRPC rpc;
  REQUIRE(rpc.ParseFromString(bytes));
  REQUIRE(rpc.has_response());
  CHECK(rpc.response().peer_infos_size() == 2);
  CHECK(rpc.response().status_code() == 200);
  auto back = decode_px_answer(bytes);
  REQUIRE(back);
  CHECK(back->records == answer.records);
  CHECK(back->status == std::optional<std::uint32_t>(200));

  // A first-revision answer has no status at all.
  px_answer old;
  old.records = {"\xc0"};
  auto old_back = decode_px_answer(encode_px_answer(old));
  REQUIRE(old_back);
  CHECK_FALSE(old_back->status);
}

TEST_CASE("peer exchange: bytes that are not what they claim are refused, naming why",
          "[core][px]") {
  CHECK(decode_px_query("\xff\xff").error().message == "peer exchange: the query is not a PeerExchangeRPC");
  CHECK(decode_px_query(encode_px_answer({})).error().message
        == "peer exchange: the RPC holds no query");
  CHECK(decode_px_answer(encode_px_query(3)).error().message
        == "peer exchange: the RPC holds no response");

  px_answer many;
  many.records.assign(px_max_answer_peers + 1, "\xc0");
  CHECK_THAT(decode_px_answer(encode_px_answer(many)).error().message,
             Catch::Contains("holds 33 records, more than 32"));
  px_answer big;
  big.records = {std::string(enr_max_bytes + 1, 'x')};
  CHECK_THAT(decode_px_answer(encode_px_answer(big)).error().message,
             Catch::Contains("record 0 is 301 bytes, more than 300"));
}
