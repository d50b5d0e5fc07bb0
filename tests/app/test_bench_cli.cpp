// The bench programs' command lines: a number that does not parse is bad
// input (exit 2, naming the option), never an uncaught exception or a
// silent 0.
#include "tests/app/run_annals.hpp"

#include <catch2/catch.hpp>

#include <tuple>
#include <utility>

#if defined(RELAY_BENCH_BINARY) && defined(ARCHIVE_BENCH_BINARY) && defined(IMPORT_BENCH_BINARY)

using namespace annals::test;

TEST_CASE("relay_bench refuses a number that does not parse with exit 2, naming the option",
          "[cli][bench]") {
  temp_dir dir("relay-bench-args");
  for (auto [args, named] : {std::pair{"--messages abc", "--messages"},
                             std::pair{"--size 12x", "--size"},
                             std::pair{"--latency-messages -3", "--latency-messages"},
                             std::pair{"--latency-rate nan", "--latency-rate"},
                             std::pair{"--messages", "--messages"},
                             std::pair{"sink many", "sink COUNT"},
                             std::pair{"sink 10 soon", "sink SECONDS"}}) {
    INFO(args);
    auto r = run_program(RELAY_BENCH_BINARY, args, dir);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains(std::string(named) + " must be a positive"));
    CHECK_THAT(r.err, !Catch::Contains("terminate"));
    CHECK(r.out.empty());  // refused before anything ran
  }
  auto help = run_program(RELAY_BENCH_BINARY, "--help", dir);
  CHECK(help.code == 0);
  CHECK_THAT(help.out, Catch::StartsWith("usage: relay_bench"));
}

TEST_CASE("archive_bench and import_bench refuse counts that are not positive whole numbers",
          "[cli][bench]") {
  temp_dir dir("bench-args");
  for (auto [program, args, named] :
       {std::tuple{ARCHIVE_BENCH_BINARY, "abc", "MESSAGES"},
        std::tuple{ARCHIVE_BENCH_BINARY, "1000 2.5", "MIN_PAYLOAD"},
        std::tuple{ARCHIVE_BENCH_BINARY, "1000 64 0", "MAX_PAYLOAD"},
        std::tuple{IMPORT_BENCH_BINARY, "lots", "GIB"},
        std::tuple{IMPORT_BENCH_BINARY, "0.01 -1", "PAYLOAD"}}) {
    INFO(program << " " << args);
    auto r = run_program(program, args, dir);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains(named));
    CHECK(r.out.empty());
  }
}

#endif
