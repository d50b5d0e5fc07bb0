// `annals bench load`: the load test as a user runs it. Progress on stderr,
// one JSON object on stdout; exit 0 only when nothing was lost or
// duplicated and every member converged within the limit.
#include "app/commands.hpp"
#include "app/progress.hpp"
#include "bench/hostile.hpp"
#include "bench/idle.hpp"
#include "bench/load.hpp"
#include "bench/net.hpp"
#include "bench/throughput.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace annals::app {

/// `annals bench net`: the network-namespace testbed (needs root).
void add_net_bench(CLI::App& bench) {
  auto o = std::make_shared<bench::net_options>();
  auto report = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>();
  auto* net = bench.add_subcommand(
    "net", "Real `annals run` nodes on many hosts of a network-namespace testbed (root): capped, "
           "lossy links, partitions, churn, an owner that goes away; checks every node's files");
  net->add_option("--scenario", o->scenario,
                  "steady, swarm, owner-offline, partition, churn or all; a comma list")
    ->capture_default_str();
  net->add_option("--hosts", o->hosts, "Nodes: one owner, the rest members")
    ->check(CLI::Range(std::size_t{3}, std::size_t{200}))
    ->capture_default_str();
  net->add_option("--messages", o->messages, "Messages posted (steady, partition; owner-offline "
                                             "posts a fifth; churn posts for its duration)")
    ->check(CLI::Range(std::size_t{10}, std::size_t{10'000'000}))
    ->capture_default_str();
  net->add_option("--rate", o->rate, "Messages per second, from one member host")
    ->check(CLI::Range(1.0, 100000.0))
    ->capture_default_str();
  net->add_option("--uplink-mbit", o->uplink_mbit, "Each host's uplink cap, Mbit/s (0: none)")
    ->check(CLI::Range(0.0, 100000.0))
    ->capture_default_str();
  net->add_option("--downlink-mbit", o->downlink_mbit, "Each host's downlink cap, Mbit/s (0: none)")
    ->check(CLI::Range(0.0, 100000.0))
    ->capture_default_str();
  net->add_option("--owner-uplink-mbit", o->owner_uplink_mbit,
                  "The owner's uplink (0: as --uplink-mbit; the swarm scenario: 2)")
    ->check(CLI::Range(0.0, 100000.0))
    ->capture_default_str();
  net->add_option("--loss", o->loss, "Percent of packets each host drops at random, inbound")
    ->check(CLI::Range(0.0, 50.0))
    ->capture_default_str();
  net->add_option("--seconds", o->seconds, "Time limit per scenario (0: each scenario's own)")
    ->check(CLI::Range(0.0, 86400.0))
    ->capture_default_str();
  net->add_option("--interval", o->interval, "The owner's archive interval, seconds")
    ->check(CLI::Range(std::uint64_t{2}, std::uint64_t{3600}))
    ->capture_default_str();
  net->add_option("--payload", o->payload, "Bytes of text per message")
    ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
    ->capture_default_str();
  net->add_option("--swarm-mb", o->swarm_mb, "MB of archives the swarm's late member fetches")
    ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
    ->capture_default_str();
  net->add_option("--partition-seconds", o->partition_seconds, "How long the partition lasts")
    ->check(CLI::Range(1.0, 3600.0))
    ->capture_default_str();
  net->add_option("--churn-seconds", o->churn_seconds, "How long members die and come back")
    ->check(CLI::Range(10.0, 86400.0))
    ->capture_default_str();
  net->add_option("--churn-rate", o->churn_rate,
                  "Messages per second in the churn scenario (0: --rate); below the steady rate, "
                  "leaving CPU for the restarted nodes' catch-up on 2 cores")
    ->check(CLI::Range(0.0, 100'000.0))
    ->capture_default_str();
  net->add_option("--discovery", o->discovery,
                  "How nodes find relay peers: static (peer lists: the owner and two ring "
                  "neighbours), dns (no lists: one enrtree:// URL served by dnsmasq in the "
                  "testbed) or discv5 (no lists: one bootstrap record, then random walks)")
    ->check(CLI::IsMember({"static", "dns", "discv5"}));
  net->add_option("--target-peers", o->target_peers,
                  "[relay] target_peers of each node with --discovery dns or discv5")
    ->check(CLI::Range(1, 1000));
  net->add_option("--report", *report, "Write CSV series and SVG plots (gnuplot) to DIR");
  net->add_option("--data-dir", *data_dir, "Keep the nodes' files here (default: a temp dir)");
  net->callback([o, report, data_dir] {
    auto started = std::chrono::steady_clock::now();
    auto line = [started](const std::string& text) {
      auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "[%7.2fs] net     %s\n", s, text.c_str());
    };
    std::error_code ec;
    o->annals_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
      fail("bench net: cannot find this binary: " + ec.message());
    o->data_dir = *data_dir;
    bench::net_result result;
    try {
      result = bench::run_net(*o, line);
    } catch (const std::invalid_argument& e) {
      fail(std::string("bench net: ") + e.what(), exit_bad_input);
    } catch (const std::exception& e) {
      fail(std::string("bench net: ") + e.what());
    }
    std::printf("%s\n", bench::net_json(*o, result).c_str());
    std::fflush(stdout);
    if (!report->empty())
      if (auto error = bench::write_net_report(*report, result); !error.empty())
        line("report: " + error);
    if (!result.passed) {
      std::string failed;
      for (const auto& s : result.scenarios)
        if (!s.passed)
          failed += (failed.empty() ? "" : ", ") + s.scenario;
      fail("bench net: " + failed + " failed (the JSON names each condition)");
    }
  });
}

/// `annals bench idle`: what two idle nodes cost, from /proc.
void add_idle_bench(CLI::App& bench) {
  auto o = std::make_shared<bench::idle_options>();
  auto data_dir = std::make_shared<std::string>();
  auto* idle = bench.add_subcommand(
    "idle", "CPU time and wakeups of two idle `annals run` nodes on loopback (each owns a "
            "community and is a member of the other's), after their first archives were imported");
  idle->add_option("--seconds", o->seconds, "The measured window")
    ->check(CLI::Range(5.0, 3600.0))
    ->capture_default_str();
  idle->add_option("--data-dir", *data_dir, "Keep the nodes' files and logs here (default: a temp dir)");
  idle->callback([o, data_dir] {
    auto started = std::chrono::steady_clock::now();
    auto line = [started](const std::string& text) {
      auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "[%7.2fs] idle    %s\n", s, text.c_str());
    };
    std::error_code ec;
    o->annals_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
      fail("bench idle: cannot find this binary: " + ec.message());
    o->data_dir = *data_dir;
    bench::idle_result result;
    try {
      result = bench::run_idle(*o, line);
    } catch (const std::exception& e) {
      fail(std::string("bench idle: ") + e.what());
    }
    std::printf("%s\n", bench::idle_json(result).c_str());
    std::fflush(stdout);
    if (!result.passed)
      fail("bench idle: a node used more than 0.2 % of a core");
  });
}

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

  auto throughput = std::make_shared<bench::throughput_options>();
  auto* tp = bench->add_subcommand(
    "throughput", "The owner's build, the member's import and its fetch, each beside this "
                  "machine's limit for the same work (SHA-1, RocksDB writes, aria2), as ratios");
  tp->add_option("--size-mib", throughput->size_mib, "MiB of archive data")
    ->check(CLI::Range(1.0, 65536.0))
    ->capture_default_str();
  tp->add_option("--payload", throughput->payload, "Bytes per message")
    ->check(CLI::Range(std::size_t{16}, std::size_t{100'000}))
    ->capture_default_str();
  tp->add_flag("--no-fetch", [throughput](std::int64_t) { throughput->fetch = false; },
               "Skip the fetch beside aria2 (which needs aria2c and opentracker)");
  auto require = std::make_shared<bool>(false);
  tp->add_flag("--require", *require,
               "Exit 1, naming each one, when a figure misses its target (for CI and scripts)");
  tp->add_option("--build-target", throughput->build_target,
                 "Build speed to reach, as a ratio to SHA-1 of the same bytes")
    ->check(CLI::Range(0.0, 100.0))
    ->capture_default_str();
  tp->add_option("--import-target", throughput->import_target,
                 "Import speed to reach, as a ratio to plain RocksDB writes")
    ->check(CLI::Range(0.0, 100.0))
    ->capture_default_str();
  tp->add_option("--rss-target-mib", throughput->rss_target_mb,
                 "Peak anonymous RSS the import may reach, MiB")
    ->check(CLI::Range(0.0, 1e6))
    ->capture_default_str();
  tp->add_option("--fetch-target", throughput->fetch_target,
                 "Fetch speed to reach, as a ratio to aria2 from the same seeder")
    ->check(CLI::Range(0.0, 100.0))
    ->capture_default_str();
  tp->callback([throughput, require] {
    std::error_code ec;
    throughput->annals_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
      fail("bench throughput: cannot find this binary: /proc/self/exe: " + ec.message());
    auto started = std::chrono::steady_clock::now();
    auto line = [started](const std::string& text) {
      auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "[%7.2fs] throughput %s\n", s, text.c_str());
    };
    bench::throughput_result result;
    try {
      result = bench::run_throughput(*throughput, line);
    } catch (const std::exception& e) {
      fail(std::string("bench throughput: ") + e.what());
    }
    std::printf("%s\n", bench::throughput_json(*throughput, result).c_str());
    char summary[512];
    std::snprintf(summary, sizeof summary,
                  "build %.2fx SHA-1 (target %.2g), import %.2fx RocksDB writes (target %.2g) "
                  "at %.0f MiB peak anonymous RSS (target < %.0f), ",
                  result.build_ratio(), throughput->build_target, result.import_ratio(),
                  throughput->import_target, result.import_peak_rss_mb,
                  throughput->rss_target_mb);
    std::string text = summary;
    if (result.fetch.measured) {
      std::snprintf(summary, sizeof summary,
                    "fetch %.2fx aria2 from the same seeder (target %.2g; annals -> annals %.1f "
                    "MB/s)",
                    result.fetch.ratio(), throughput->fetch_target,
                    result.fetch.annals_from_annals_s > 0
                      ? double(result.fetch.bytes) / 1e6 / result.fetch.annals_from_annals_s
                      : 0.0);
      text += summary;
    } else {
      text += "fetch not measured: " + result.fetch.why;
    }
    line(text);
    if (*require) {
      auto missed = bench::missed_targets(*throughput, result);
      for (const auto& m : missed)
        line("MISSED: " + m);
      if (!missed.empty()) {
        std::fflush(stdout);
        fail("bench throughput: " + counted(missed.size(), "target") + " missed (--require)");
      }
      line("OK: every figure reached its target");
    }
  });

  auto hostile = std::make_shared<bench::hostile_options>();
  auto* h = bench->add_subcommand(
    "hostile", "An annals run owner on 127.0.0.1 under hostile relay peers while honest peers use "
               "it: its memory, what it counted, and whether the honest peers were served");
  h->add_option("--seconds", hostile->seconds, "Attack time")
    ->check(CLI::Range(5.0, 3600.0))
    ->capture_default_str();
  h->add_option("--half-open", hostile->half_open, "TCP connections that never finish the handshake")
    ->check(CLI::Range(std::size_t{0}, std::size_t{5000}))
    ->capture_default_str();
  h->add_option("--idle", hostile->idle, "Connections that finish the handshake, then say nothing")
    ->check(CLI::Range(std::size_t{0}, std::size_t{5000}))
    ->capture_default_str();
  h->add_option("--slow-readers", hostile->slow_readers, "Peers that subscribe and never read")
    ->check(CLI::Range(std::size_t{0}, std::size_t{1000}))
    ->capture_default_str();
  h->add_option("--flooders", hostile->flooders,
                "Peers flooding valid junk messages, empty IHAVEs and subscription churn")
    ->check(CLI::Range(std::size_t{0}, std::size_t{100}))
    ->capture_default_str();
  h->add_option("--flood-rate", hostile->flood_rate, "Junk messages per second, all flooders")
    ->check(CLI::Range(1.0, 1e6))
    ->capture_default_str();
  h->add_option("--stream-hogs", hostile->stream_hogs, "Peers opening 1,000 streams a second")
    ->check(CLI::Range(std::size_t{0}, std::size_t{100}))
    ->capture_default_str();
  h->add_option("--oversized", hostile->oversized, "Peers sending 2 MiB relay frames")
    ->check(CLI::Range(std::size_t{0}, std::size_t{100}))
    ->capture_default_str();
  h->add_option("--iwant-amplifiers", hostile->iwant_amplifiers,
                "Peers naming one 100 KB message 25,000 times in IWANTs every 2 s")
    ->check(CLI::Range(std::size_t{0}, std::size_t{100}))
    ->capture_default_str();
  h->add_option("--honest-messages", hostile->honest_messages,
                "Messages the honest publisher sends through the owner")
    ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
    ->capture_default_str();
  h->add_option("--owner-rate", hostile->owner_rate, "The owner's own traffic, messages per second")
    ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
    ->capture_default_str();
  h->add_option("--memory-bound", hostile->memory_bound_mib,
                "Fail when the owner's anonymous RSS grows by more MiB than this")
    ->check(CLI::Range(1.0, 1e6))
    ->capture_default_str();
  h->callback([hostile] {
    auto started = std::chrono::steady_clock::now();
    auto line = [started](const std::string& text) {
      auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "[%7.2fs] hostile %s\n", s, text.c_str());
    };
    std::error_code ec;
    hostile->annals_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
      fail("bench hostile: cannot find this binary: " + ec.message());
    bench::hostile_result result;
    try {
      result = bench::run_hostile(*hostile, line);
    } catch (const std::exception& e) {
      fail(std::string("bench hostile: ") + e.what());
    }
    std::printf("%s\n", bench::hostile_json(*hostile, result).c_str());
    std::fflush(stdout);
    auto growth = result.peak_rss_mib - result.baseline_rss_mib;
    if (!result.owner_alive)
      fail("bench hostile: the owner died under attack");
    if (result.honest_received != result.honest_sent)
      fail("bench hostile: the honest receiver got " + std::to_string(result.honest_received)
           + " of " + std::to_string(result.honest_sent) + " messages");
    if (!result.late_joiner_connected)
      fail("bench hostile: an honest peer joining mid-attack could not connect");
    if (result.late_joiner_received != result.late_joiner_expected)
      fail("bench hostile: an honest peer joining mid-attack got "
           + std::to_string(result.late_joiner_received) + " of the "
           + std::to_string(result.late_joiner_expected) + " messages sent once it was in");
    if (growth > hostile->memory_bound_mib)
      fail("bench hostile: the owner's anonymous RSS grew by " + std::to_string(int(growth))
           + " MiB, over the bound of " + std::to_string(int(hostile->memory_bound_mib)));
    line("OK: honest peers served, owner RSS grew " + std::to_string(int(growth))
         + " MiB (bound " + std::to_string(int(hostile->memory_bound_mib)) + ")");
  });

  add_net_bench(*bench);
  add_idle_bench(*bench);
}

} // namespace annals::app
