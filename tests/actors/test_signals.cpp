#include <annals/signals.hpp>

#include <catch2/catch.hpp>

using namespace annals;

TEST_CASE("signals serialize as status-go's JSON envelope", "[signals]") {
  const std::string id = "0x02" + std::string(64, 'a');
  CHECK(to_json_line(history_archives_created{id, 10, 20})
        == R"({"type":"community.historyArchivesCreated","event":{"communityId":")" + id
             + R"(","from":10,"to":20}})");
  CHECK(to_json_line(history_archives_seeding{id, "magnet:?xt=urn:btih:aa"})
        == R"({"type":"community.historyArchivesSeeding","event":{"communityId":")" + id + R"("}})");
  CHECK(to_json_line(history_archives_protocol{true})
        == R"({"type":"community.historyArchivesProtocolEnabled","event":null})");
  CHECK(to_json_line(magnetlink_published{id, 7, "magnet:?x"})
        == R"({"type":"annals.magnetlinkPublished","event":{"communityId":")" + id
             + R"(","clock":7,"magnetUri":"magnet:?x"}})");
  CHECK(to_json_line(magnetlink_rejected{"", "malformed: not a WakuMessage"})
        == R"({"type":"annals.magnetlinkRejected","event":{"reason":"malformed: not a WakuMessage"}})");
  CHECK(signal_type(downloading_history_archives_finished{id})
        == "community.downloadingHistoryArchivesFinished");
}
