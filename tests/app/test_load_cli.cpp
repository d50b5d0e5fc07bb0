// `annals bench load` and `annals demo` with late messages, run as a user
// runs them: whole processes, real nodes on loopback, their output read back.
#include "tests/app/run_annals.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

using namespace annals::test;

TEST_CASE("bench load: every member holds exactly the posted messages, late ones included",
          "[cli][bench][late]") {
  temp_dir dir("annals-load-cli");
  auto report = dir / "report";
  auto r = run_annals("bench load --communities 2 --members 2 --messages 400 --rate 2000 "
                      "--late-share 0.25 --late-by 30 --interval 2 --seconds 120 --report "
                        + report.string(),
                      dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);  // stdout holds the JSON and nothing else
  CHECK(j["posted"] == 800);
  CHECK(j["stored"] == 800);
  CHECK(j["archived"] == 800);
  CHECK(j["lost"] == 0);
  CHECK(j["duplicated"] == 0);
  CHECK(j["converged"] == true);
  CHECK(j["converged_s"].get<double>() > 0);
  // One latency sample per (member, message) pair.
  CHECK(j["latency_ms"]["count"] == 2 * 800);
  CHECK(j["latency_ms"]["p50"].get<double>() <= j["latency_ms"]["p99"].get<double>());
  CHECK(j["latency_ms"]["p99"].get<double>() <= j["latency_ms"]["max"].get<double>());
  CHECK(j["peak_rss_mb"].get<double>() > 0);
  for (const auto& check : j["checks"]) {
    INFO(check.dump());
    CHECK(check["duplicated"] == 0);
    CHECK(check["missing"] == 0);
    CHECK(check["unarchived"] == 0);
  }
  CHECK_THAT(r.err, Catch::Contains("OK: every member holds exactly the 800 posted messages"));
  // The report: the same JSON, the series and gnuplot's plots.
  CHECK(nlohmann::json::parse(read_file(report / "result.json"))["lost"] == 0);
  CHECK_THAT(read_file(report / "series.csv"), Catch::StartsWith("seconds,node,stored"));
  for (const char* plot : {"messages.svg", "latency.svg", "memory.svg"}) {
    INFO(plot);
    CHECK_THAT(read_file(report / plot), Catch::Contains("<svg"));
    CHECK_THAT(read_file(report / "index.html"), Catch::Contains(plot));
  }
}

TEST_CASE("demo with late messages converges to the owner's stored set", "[cli][demo][late]") {
  temp_dir dir("annals-demo-cli");
  auto r = run_annals("demo --members 2 --messages 1000 --rate 2000 --late-share 0.3 --late-by 60 "
                      "--relay inprocess --seconds 90",
                      dir);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("30 % of them up to 60 s late"));
  CHECK_THAT(r.out, Catch::Contains("OK: the owner archived all 1000 stored messages and all 2 "
                                    "members hold exactly them"));
}

TEST_CASE("late traffic options are checked", "[cli][bench][late]") {
  temp_dir dir("annals-load-cli");
  auto share = run_annals("bench load --late-share 1.5", dir);
  CHECK(share.code == 2);
  CHECK_THAT(share.err, Catch::Contains("--late-share"));
  auto by = run_annals("demo --late-by 0", dir);
  CHECK(by.code == 2);
  CHECK_THAT(by.err, Catch::Contains("--late-by"));
}

TEST_CASE("a demo that does not converge still prints its table and names what lags",
          "[cli][demo]") {
  temp_dir dir("annals-demo-cli");
  // 4,000 messages at 500 msg/s cannot be archived and fetched within 3 s.
  auto r = run_annals("demo --members 2 --messages 4000 --rate 500 --relay inprocess --seconds 3",
                      dir);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("unarchived"));
  CHECK_THAT(r.out, Catch::Contains("member2"));
  CHECK_THAT(r.out, Catch::Contains("lags by"));
  CHECK_THAT(r.err, Catch::Contains("not converged within 3 s"));
  CHECK_THAT(r.err, Catch::Contains("of 4000 posted messages"));
}

TEST_CASE("bench throughput builds, imports and fetches every byte and prints each ratio beside "
          "its limit",
          "[cli][bench][throughput]") {
  temp_dir dir("annals-throughput-cli");
  auto r = run_annals("bench throughput --size-mib 4 --payload 500", dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  // Stored: size over per-message bytes; the first window is an untimed
  // first build, the rest the timed one.
  auto stored = j["stored_messages"].get<std::uint64_t>();
  CHECK(stored == (4u << 20) / (500 + 105) + 1);
  CHECK(j["messages"].get<std::uint64_t>() > stored / 3);
  CHECK(j["messages"].get<std::uint64_t>() < stored);
  CHECK(j["import"]["messages"] == j["messages"]);
  CHECK(j["data_bytes"].get<std::uint64_t>() > 1u << 20);
  for (const char* part : {"build", "import", "fetch"}) {
    CAPTURE(part);
    CHECK(j[part]["ratio"].get<double>() > 0);
    CHECK_FALSE(j[part]["limit"].get<std::string>().empty());
  }
  CHECK(j["build"]["target"] == 0.6);
  CHECK(j["import"]["target"] == 0.6);
  CHECK(j["import"]["rss_anon_mb_peak"].get<double>() > 0);
  // The fetch copies the whole set (every archive, and the index).
  CHECK(j["fetch"]["measured"] == true);
  CHECK(j["fetch"]["target"] == 1.0);
  CHECK(j["fetch"]["bytes"].get<std::uint64_t>() > j["data_bytes"].get<std::uint64_t>());
  CHECK(j["fetch"]["annals_from_annals_seconds"].get<double>() > 0);
  CHECK(r.err.find("fetch ") != std::string::npos);

  auto skipped = run_annals("bench throughput --size-mib 1 --no-fetch", dir);
  REQUIRE(skipped.code == 0);
  auto k = nlohmann::json::parse(skipped.out);
  CHECK(k["fetch"]["measured"] == false);
  CHECK(k["fetch"]["why"] == "--no-fetch");
}

TEST_CASE("bench throughput --require exits 1 naming each target it misses, 0 when all are met",
          "[cli][bench][throughput]") {
  temp_dir dir("annals-throughput-require");
  // Targets no machine misses, and then one no machine meets.
  auto met = run_annals("bench throughput --size-mib 1 --no-fetch --require --build-target 0 "
                        "--import-target 0 --rss-target-mib 100000",
                        dir);
  INFO(met.err);
  CHECK(met.code == 0);
  CHECK_THAT(met.err, Catch::Contains("OK: every figure reached its target"));
  auto missed = run_annals("bench throughput --size-mib 1 --no-fetch --require --build-target 0 "
                           "--import-target 0 --rss-target-mib 1",
                           dir);
  INFO(missed.err);
  CHECK(missed.code == 1);
  CHECK_THAT(missed.err, Catch::Contains("MISSED: import peak anonymous RSS"));
  CHECK_THAT(missed.err, Catch::Contains("is above its target 1 MiB"));
  CHECK_THAT(missed.err, Catch::Contains("1 target missed (--require)"));
  CHECK(missed.err.find("MISSED: build") == std::string::npos);
  // The JSON still comes first, with the target it was judged against.
  auto j = nlohmann::json::parse(missed.out);
  CHECK(j["import"]["rss_target_mb"] == 1.0);
  // Without --require the same figures only print.
  auto quiet = run_annals("bench throughput --size-mib 1 --no-fetch --rss-target-mib 1", dir);
  CHECK(quiet.code == 0);
}
