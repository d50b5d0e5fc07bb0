#include "core/message_jsonl.hpp"
#include "tests/core/archive_fixtures.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace annals;
using namespace annals::test;

TEST_CASE("JSONL messages round trip", "[jsonl]") {
  auto message = make_message(t0, topic_a, 33, 'z');
  message.third_party_id = "discord-1";
  auto line = message_to_json(message);
  auto back = parse_message_json(line);
  REQUIRE(back);
  CHECK(back->timestamp == message.timestamp);
  CHECK(back->topic == message.topic);
  CHECK(back->payload == message.payload);
  CHECK(back->sig == message.sig);
  CHECK(back->hash == message.hash);
  CHECK(back->third_party_id == "discord-1");
}

TEST_CASE("JSONL errors name the line and the field", "[jsonl]") {
  auto good = message_to_json(make_message(t0, topic_a));
  std::istringstream in(good + "\n\n" + good + "\n"
                        + R"({"timestamp": 1, "topic": "0x1234", "payload": "", "sig": "", "hash": "aa"})"
                        + "\n");
  auto read = read_messages_jsonl(in);
  REQUIRE_FALSE(read);
  CHECK(read.error().message.find("line 4") == 0);
  CHECK(read.error().message.find("topic") != std::string::npos);

  CHECK_FALSE(parse_message_json("not json"));
  CHECK(parse_message_json(R"({"timestamp": -5})").error().message.find("timestamp") != std::string::npos);
  CHECK(parse_message_json(R"({"timestamp": 5, "topic": "0x12345678", "payload": "@@@@", "sig": "", "hash": "aa"})")
          .error().message.find("payload") != std::string::npos);
  CHECK(parse_message_json(R"({"timestamp": 5, "topic": "0x12345678", "payload": "", "sig": "", "hash": ""})")
          .error().message.find("hash") != std::string::npos);
}
