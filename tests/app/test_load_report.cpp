// The bench load report's plots: told-apart member series (a band when
// there are many) and the latency plot's p50/p99 marks, drawn by gnuplot.
#include "bench/load.hpp"
#include "tests/temp_dir.hpp"
#include "tests/app/run_annals.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <set>

using namespace annals;
using namespace annals::bench;
using annals::test::temp_dir;

namespace {

load_result synthetic_result(std::size_t members) {
  load_result r;
  r.nodes = members + 1;
  for (int t = 0; t < 4; ++t) {
    load_sample s;
    s.seconds = t;
    s.posted = 100u * std::uint64_t(t);
    s.nodes["owner1"] = {100u * std::uint64_t(t), 90u * std::uint64_t(t), 0};
    for (std::size_t m = 1; m <= members; ++m)
      s.nodes["member" + std::to_string(m)] = {0, 0, std::uint64_t(t) * (50 + m)};
    r.samples.push_back(s);
  }
  r.latency.imported = {400, 12.34, 456.7, 900};
  r.latency.imported_quantiles = {1, 5, 12.34, 100, 456.7, 900};
  return r;
}

} // namespace

TEST_CASE("bench load's plots give each member its own colour, a band beyond ten, and mark p50 "
          "and p99",
          "[app][bench][report]") {
  temp_dir dir("load-report");
  load_options options;
  {
    auto error = write_load_report(dir / "few", options, synthetic_result(3));
    INFO(error);
    REQUIRE(error.empty());
    auto script = annals::test::read_file(dir / "few" / "plots.gnuplot");
    std::set<std::string> colours;
    std::regex colour("lc rgb '(#[0-9A-F]{6})' title 'member\\d imported'");
    for (std::sregex_iterator it(script.begin(), script.end(), colour), end; it != end; ++it)
      colours.insert((*it)[1]);
    CHECK(colours.size() == 3);
    CHECK(script.find("filledcurves") == std::string::npos);
    // The latency plot names its quantiles where they fall.
    CHECK_THAT(script, Catch::Contains("' p50 12.3 ms'") && Catch::Contains("' p99 457 ms'"));
    auto svg = annals::test::read_file(dir / "few" / "latency.svg");
    CHECK_THAT(svg, Catch::Contains("p50 12.3 ms"));
    // Figures for people in the page.
    auto html = annals::test::read_file(dir / "few" / "index.html");
    CHECK_THAT(html, Catch::Contains("<td>12.3</td><td>457</td>"));
  }
  {
    auto error = write_load_report(dir / "many", options, synthetic_result(12));
    INFO(error);
    REQUIRE(error.empty());
    auto script = annals::test::read_file(dir / "many" / "plots.gnuplot");
    CHECK_THAT(script, Catch::Contains("12 members imported: min to max"));
    CHECK_THAT(script, Catch::Contains("'median member'"));
    CHECK(script.find("member1 imported") == std::string::npos);
    CHECK_THAT(script, Catch::Contains("owner1 stored"));
    // min, median and max of the twelve at t = 3: 3*51, 3*57, 3*62.
    auto band = annals::test::read_file(dir / "many" / "members_band.dat");
    CHECK_THAT(band, Catch::Contains("3 153 171 186\n"));
    CHECK_THAT(annals::test::read_file(dir / "many" / "messages.svg"), Catch::Contains("<svg"));
  }
}
