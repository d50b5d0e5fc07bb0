// The status contract's renderings: Prometheus text, log lines, histograms.
#include <annals/log.hpp>
#include <annals/status.hpp>
#include "proto/waku_message.pb.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace annals;

TEST_CASE("Prometheus text: one HELP and TYPE per family, samples together, labels escaped",
          "[core][status]") {
  component_status relay;
  relay.component = "relay";
  relay.gauge("annals_relay_peers", "Connected relay peers", 3)
    .counter("annals_links_rejected_total", "Refused links", 2,
             {"community", "0x02ab", "reason", "stale \"clock\"\\\n"});
  component_status gate;
  gate.component = "gate";
  gate.counter("annals_links_rejected_total", "Refused links", 5,
               {"community", "0x03cd", "reason", "forged"});
  auto text = prometheus_text({relay, gate});
  CHECK(text
        == "# HELP annals_relay_peers Connected relay peers\n"
           "# TYPE annals_relay_peers gauge\n"
           "annals_relay_peers 3\n"
           "# HELP annals_links_rejected_total Refused links\n"
           "# TYPE annals_links_rejected_total counter\n"
           "annals_links_rejected_total{community=\"0x02ab\",reason=\"stale \\\"clock\\\"\\\\\\n\"} 2\n"
           "annals_links_rejected_total{community=\"0x03cd\",reason=\"forged\"} 5\n");
}

TEST_CASE("a duration histogram counts each observation in its first bucket that holds it",
          "[core][status]") {
  auto h = status_histogram::seconds("annals_build_duration_seconds", "Build time");
  h.observe(0.004);
  h.observe(0.3);
  h.observe(0.5);
  h.observe(1000);
  CHECK(h.count == 4);
  CHECK(h.sum == Approx(1000.804));
  component_status builder;
  builder.component = "builder";
  builder.histograms.push_back(h);
  auto text = prometheus_text({builder});
  CHECK_THAT(text, Catch::Contains("# TYPE annals_build_duration_seconds histogram\n"));
  CHECK_THAT(text, Catch::Contains("annals_build_duration_seconds_bucket{le=\"0.005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("annals_build_duration_seconds_bucket{le=\"0.25\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("annals_build_duration_seconds_bucket{le=\"0.5\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("annals_build_duration_seconds_bucket{le=\"300\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("annals_build_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
  CHECK_THAT(text, Catch::Contains("annals_build_duration_seconds_count 4\n"));
}

TEST_CASE("a status line shows the state and the non-zero unlabelled numbers", "[core][status]") {
  component_status s;
  s.component = "relay";
  s.state = "listening, 2 peers";
  s.gauge("annals_relay_peers", "", 2)
    .counter("annals_relay_messages_in_total", "", 0)
    .counter("annals_relay_messages_out_total", "", 7)
    .counter("annals_links_published_total", "", 1, {"community", "x"});
  CHECK(status_line(s) == "listening, 2 peers; relay_peers=2, relay_messages_out=7");
  CHECK(s.value_of("annals_links_published_total", {"community", "x"}) == 1);
  CHECK(s.value_of("annals_links_published_total") == -1);
}

TEST_CASE("log lines: text for people, one JSON object per line for shippers", "[core][log]") {
  auto text = format_log_line(log_format::text, log_level::warn, "2026-12-01T11:05:20.123Z",
                              "relay", "peer said\nforged line");
  CHECK(text == "2026-12-01T11:05:20.123Z warn  relay: peer said forged line");
  auto line = format_log_line(log_format::json, log_level::info, "2026-12-01T11:05:20.123Z",
                              "node", "quote \" and \x01");
  auto j = nlohmann::json::parse(line);
  CHECK(j["time"] == "2026-12-01T11:05:20.123Z");
  CHECK(j["level"] == "info");
  CHECK(j["component"] == "node");
  CHECK(j["message"] == "quote \" and \x01");
  CHECK(parse_log_level("debug") == log_level::debug);
  CHECK_FALSE(parse_log_level("verbose"));
  CHECK(log_timestamp().size() == 24);
}

TEST_CASE("the log level filters lines", "[core][log]") {
  auto saved = current_log_options();
  log_options quiet;
  quiet.level = log_level::error;
  configure_log(quiet);
  CHECK(log_enabled(log_level::error));
  CHECK_FALSE(log_enabled(log_level::warn));
  configure_log(saved);
}

TEST_CASE("a host's log sink gets each line at its level, whole and unformatted, and the file "
          "gets nothing",
          "[core][log]") {
  auto saved = current_log_options();
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  struct line {
    log_level level;
    std::string component, message;
  };
  std::vector<line> got;
  log_options options;
  options.out = file;
  options.level = log_level::warn;
  options.sink = [&](log_level level, std::string_view component, std::string_view message) {
    got.push_back({level, std::string(component), std::string(message)});
  };
  configure_log(options);
  log_error("relay", "dial failed\nsecond line");
  log_warn("store", "slow");
  log_info("node", "not at this level");
  configure_log(saved);
  REQUIRE(got.size() == 2);
  CHECK(got[0].level == log_level::error);
  CHECK(got[0].component == "relay");
  CHECK(got[0].message == "dial failed\nsecond line");  // the host formats it
  CHECK(got[1].level == log_level::warn);
  CHECK(got[1].message == "slow");
  CHECK(std::ftell(file) == 0);
  std::fclose(file);
}

TEST_CASE("protobuf's complaints about a stranger's bytes go to the debug log, not stderr",
          "[core][log]") {
  auto saved = current_log_options();
  std::FILE* sink = std::tmpfile();
  REQUIRE(sink);
  auto logged = [&] {
    std::fflush(sink);
    std::rewind(sink);
    std::string text;
    char buf[512];
    while (auto n = std::fread(buf, 1, sizeof buf, sink))
      text.append(buf, n);
    return text;
  };
  // A WakuMessage whose content_topic (field 2, a proto3 string) is not UTF-8.
  const std::string hostile = std::string("\x12\x02\xff\xfe", 4);
  log_options options;
  options.out = sink;
  options.level = log_level::info;
  configure_log(options);
  waku::WakuMessage message;
  (void)message.ParseFromString(hostile);
  CHECK(logged().empty());
  options.level = log_level::debug;
  configure_log(options);
  (void)message.ParseFromString(hostile);
  CHECK_THAT(logged(), Catch::Contains("debug protobuf: ") && Catch::Contains("UTF-8"));
  configure_log(saved);
  std::fclose(sink);
}
