// `annals bench load`: the load test as a user runs it. Progress on stderr,
// one JSON object on stdout; exit 0 only when nothing was lost or
// duplicated and every member converged within the limit.
#include "app/commands.hpp"
#include "bench/load.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace annals::app {

void add_bench_commands(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks of whole nodes");
  bench->require_subcommand(1);
  auto options = std::make_shared<bench::load_options>();
  auto report = std::make_shared<std::string>();
  auto* load = bench->add_subcommand(
    "load", "Owners, members and senders in one process: posts, archives, fetches and imports, "
            "then checks every member holds exactly the posted messages");
  load->add_option("--communities", options->communities, "Communities, one owner node each")
    ->check(CLI::Range(std::size_t{1}, std::size_t{64}))
    ->capture_default_str();
  load->add_option("--members", options->members, "Member nodes, each joining every community")
    ->check(CLI::Range(std::size_t{0}, std::size_t{64}))
    ->capture_default_str();
  load->add_option("--messages", options->messages, "Messages per community")
    ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
    ->capture_default_str();
  load->add_option("--rate", options->rate, "Messages per second, all communities together")
    ->check(CLI::Range(1.0, 1e7))
    ->capture_default_str();
  load->add_option("--late-share", options->late_share,
                   "Share of messages (0..1) posted with a timestamp in the past")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();
  load->add_option("--late-by", options->late_by, "How far in the past, at most (seconds)")
    ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{365} * 24 * 3600))
    ->capture_default_str();
  load->add_option("--relay", options->relay,
                   "inprocess: one relay inside the process; libp2p: a Waku relay host per node "
                   "on 127.0.0.1, all dialling the first owner's")
    ->check(CLI::IsMember({"inprocess", "libp2p"}))
    ->capture_default_str();
  load->add_option("--store", options->store,
                   "libp2p: every node serves the Waku store and syncs from it, as annals run "
                   "does (true|false)")
    ->capture_default_str();
  load->add_option("--seconds", options->seconds, "Time limit for convergence")
    ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{24} * 3600))
    ->capture_default_str();
  load->add_option("--interval", options->interval, "Owners' archive interval in seconds")
    ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{7} * 24 * 3600))
    ->capture_default_str();
  load->add_option("--channels", options->channels, "Channels per community")
    ->check(CLI::Range(std::size_t{1}, std::size_t{100}))
    ->capture_default_str();
  load->add_option("--payload", options->payload, "Bytes of text per message")
    ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
    ->capture_default_str();
  load->add_option("--data-dir", options->data_dir, "Keep the nodes' files here (default: a temp dir)");
  load->add_option("--report", *report,
                   "Write result.json, CSV series, SVG plots (gnuplot) and index.html to DIR");
  load->callback([options, report] {
    auto started = std::chrono::steady_clock::now();
    auto line = [started](const std::string& text) {
      auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "[%7.2fs] load    %s\n", s, text.c_str());
    };
    bench::load_result result;
    // Nodes may print to stdout (CAF's aout); stdout carries only the JSON.
    std::fflush(stdout);
    int json_out = ::dup(STDOUT_FILENO);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    auto restore = [json_out] {
      std::fflush(stdout);
      if (json_out >= 0) {
        ::dup2(json_out, STDOUT_FILENO);
        ::close(json_out);
      }
    };
    try {
      result = bench::run_load(*options, line);
    } catch (const std::exception& e) {
      restore();
      fail(std::string("bench load: ") + e.what());
    }
    restore();
    std::printf("%s\n", bench::load_json(*options, result).c_str());
    std::fflush(stdout);
    if (!report->empty()) {
      auto problem = bench::write_load_report(*report, *options, result);
      if (!problem.empty())
        fail("bench load: report: " + problem);
      line("report in " + *report + "/index.html");
    }
    if (!result.converged)
      fail("bench load: members did not converge within " + std::to_string(options->seconds) + " s");
    if (result.lost > 0 || result.duplicated > 0)
      fail("bench load: " + std::to_string(result.lost) + " (member, message) pairs lost, "
           + std::to_string(result.duplicated) + " duplicated");
    line("OK: every member holds exactly the " + std::to_string(result.posted) + " posted messages; "
         "each is in exactly one owner archive");
  });
}

} // namespace annals::app
