#include "bench/load.hpp"

#include "actors/inprocess_relay.hpp"
#include "actors/libp2p_relay.hpp"
#include "storage/store_server.hpp"
#include "actors/node.hpp"
#include "actors/scheduler_probe.hpp"
#include "actors/traffic_generator.hpp"
#include "core/archive_reader.hpp"
#include "net/p2p/host.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace annals::bench {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;


/// Hands every observation to the tally.
message_observer_actor::behavior_type load_observer(message_observer_actor::pointer,
                                                    std::shared_ptr<load_tally> tally) {
  return {[tally](const message_observation& seen) {
    tally->observe(seen.node, seen.community_id, seen.kind, seen.hashes);
  }};
}

/// Times the owners' builds from their signals.
signal_sink_actor::behavior_type build_timer(signal_sink_actor::pointer,
                                             std::shared_ptr<load_tally> tally) {
  return {[tally](const signal& s) {
    if (auto* started = caf::get_if<creating_history_archives>(&s))
      tally->build_started(started->community_id);
    else if (auto* made = caf::get_if<history_archives_created>(&s))
      tally->build_finished(made->community_id);
    else if (auto* none = caf::get_if<no_history_archives_created>(&s))
      tally->build_finished(none->community_id);
  }};
}

std::string fixed(double value, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return buf;
}

} // namespace

/// Every message hash of `community` in a store, with how often it appears.
std::unordered_map<std::string, std::uint32_t> stored_hashes(store& db, const public_key& community,
                                                             std::uint64_t& entries) {
  std::unordered_map<std::string, std::uint32_t> out;
  auto scanned = db.scan_messages(community, 0, UINT64_MAX, {}, [&](archive_message&& m) {
    ++out[m.hash];
    ++entries;
  });
  if (!scanned)
    throw std::runtime_error(db.path().string() + ": " + scanned.error().to_string());
  return out;
}

rss_reading read_rss(const std::string& proc) {
  rss_reading out;
  std::ifstream status("/proc/" + proc + "/status");
  std::string line;
  while (std::getline(status, line)) {
    auto kb = [&] { return std::strtod(line.c_str() + line.find(':') + 1, nullptr) / 1024.0; };
    if (line.rfind("RssAnon:", 0) == 0)
      out.anon_mb = kb();
    else if (line.rfind("RssFile:", 0) == 0)
      out.file_mb = kb();
  }
  return out;
}

load_result run_load(const load_options& options,
                     const std::function<void(const std::string&)>& line) {
  fs::path root = options.data_dir;
  bool temporary = root.empty();
  if (temporary) {
    char pattern[] = "/tmp/annals-load-XXXXXX";
    if (!::mkdtemp(pattern))
      throw std::runtime_error("cannot create a temporary directory under /tmp");
    root = pattern;
  }
  line("data in " + root.string() + (temporary ? " (removed at the end)" : ""));

  load_result result;
  std::vector<std::string> owner_names, member_names;
  for (std::size_t k = 0; k < options.communities; ++k)
    owner_names.push_back("owner" + std::to_string(k + 1));
  for (std::size_t m = 0; m < options.members; ++m)
    member_names.push_back("member" + std::to_string(m + 1));
  std::vector<synthetic_community> communities;
  for (std::size_t k = 0; k < options.communities; ++k)
    communities.push_back(synthetic_community::make(options.channels, 1000 + k));
  result.nodes = options.communities + options.members;
  const std::uint64_t expected = options.communities * options.messages;

  auto start = clock_type::now();
  auto tally = std::make_shared<load_tally>(member_names, start);
  auto seconds_since = [](clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
  };
  {
    node_system_config cfg;
    caf::actor_system sys{cfg};
    caf::scoped_actor self{sys};
    auto observer = sys.spawn(load_observer, tally);
    auto timer = sys.spawn(build_timer, tally);
    // Every node of this run shares one scheduler: one probe measures it.
    auto probe = sys.spawn(scheduler_probe, std::chrono::milliseconds(10));
    const bool libp2p = options.relay == "libp2p";

    std::vector<relay_actor> relays;  // owners' first, then members'
    std::map<std::string, std::shared_ptr<store_query_server>> store_servers;
    std::string hub;                  // owner1's relay address
    auto spawn_relay = [&](const std::string& who) -> relay_actor {
      if (!libp2p) {
        if (relays.empty())
          relays.push_back(sys.spawn(inprocess_relay));
        return relays.front();
      }
      p2p::host_config host;
      host.listen = {"/ip4/127.0.0.1/tcp/0"};
      if (!hub.empty())
        host.static_peers = {hub};
      host.agent_version = "annals-bench";
      if (options.store) {
        auto server = store_servers[who] = std::make_shared<store_query_server>();
        host.store_query = [server](const std::string& peer, std::string_view request) {
          return server->answer(peer, request);
        };
      }
      auto spawned = spawn_libp2p_relay(sys, host, [](const std::string&) {});
      if (!spawned)
        throw std::runtime_error(who + ": " + sys.render(spawned.error()));
      relays.push_back(*spawned);
      if (hub.empty())
        self->request(caf::actor_cast<libp2p_relay_actor>(*spawned), 10s, listen_atom::value)
          .receive([&](const std::string&, const std::vector<std::string>& addrs) { hub = addrs.at(0); },
                   [&](const caf::error& err) { throw std::runtime_error(sys.render(err)); });
      return *spawned;
    };

    std::vector<node_actor> nodes;
    std::vector<relay_actor> owner_relays;
    auto shutdown = [&] {
      for (auto& n : nodes)
        self->send_exit(n, caf::exit_reason::user_shutdown);
      for (auto it = relays.rbegin(); it != relays.rend(); ++it)
        self->send_exit(*it, caf::exit_reason::user_shutdown);
      self->send_exit(observer, caf::exit_reason::user_shutdown);
      self->send_exit(timer, caf::exit_reason::user_shutdown);
      self->send_exit(probe, caf::exit_reason::user_shutdown);
    };
    auto make_config = [&](const std::string& name, relay_actor relay) {
      node_config config;
      config.data_dir = root / name;
      config.name = name;
      config.torrent.listen = "127.0.0.1:0";
      config.torrent.loopback = true;
      config.torrent.advertise_address = true;
      config.archives.interval = options.interval;
      config.relay = std::move(relay);
      if (store_servers.count(name))
        config.waku_store.serve = config.waku_store.sync = true;
      return config;
    };
    auto make_hooks = [&](const std::string& name) {
      node_hooks hooks;
      hooks.observer = observer;
      if (auto server = store_servers.find(name); server != store_servers.end())
        hooks.store_server = server->second;
      return hooks;
    };
    auto ask_id = [&](const node_actor& node, auto... xs) {
      std::string id;
      self->request(node, 30s, xs...)
        .receive([&](const std::string& out) { id = out; },
                 [&](const caf::error& err) {
                   shutdown();
                   throw std::runtime_error(sys.render(err));
                 });
      return id;
    };

    for (std::size_t k = 0; k < options.communities; ++k) {
      auto relay = spawn_relay(owner_names[k]);
      owner_relays.push_back(relay);
      auto config = make_config(owner_names[k], relay);
      config.subscribers.push_back(timer);
      auto node = spawn_node(sys, config, make_hooks(owner_names[k]));
      if (!node) {
        shutdown();
        throw std::runtime_error(owner_names[k] + ": " + sys.render(node.error()));
      }
      nodes.push_back(*node);
      ask_id(*node, create_atom::value,
             community_spec{to_hex(communities[k].key.bytes()), communities[k].channel_ids, false, {}});
    }
    for (std::size_t m = 0; m < options.members; ++m) {
      auto node = spawn_node(sys, make_config(member_names[m], spawn_relay(member_names[m])),
                             make_hooks(member_names[m]));
      if (!node) {
        shutdown();
        throw std::runtime_error(member_names[m] + ": " + sys.render(node.error()));
      }
      nodes.push_back(*node);
      for (const auto& c : communities)
        ask_id(*node, join_atom::value, membership_spec{c.id(), c.channel_ids, {}});
    }
    line(std::to_string(options.communities) + " owners and " + std::to_string(options.members)
         + " members started (" + options.relay + " relay"
         + (libp2p ? std::string(options.store ? ", Waku store served and synced" : ", no Waku store")
                   : std::string())
         + "), every member joined every community");

    if (libp2p) {
      auto want = relays.size() - 1;
      auto until = clock_type::now() + 30s;
      for (;;) {
        std::size_t peers = 0;
        self->request(relays.front(), 10s, peers_atom::value)
          .receive([&](const std::vector<std::string>& ids) { peers = ids.size(); },
                   [&](const caf::error&) {});
        if (peers >= want)
          break;
        if (clock_type::now() > until) {
          shutdown();
          throw std::runtime_error("only " + std::to_string(peers) + " of " + std::to_string(want)
                                   + " relays connected to owner1's within 30 s");
        }
        std::this_thread::sleep_for(50ms);
      }
      std::this_thread::sleep_for(500ms);  // subscriptions and meshes settle
      line("all " + std::to_string(want) + " relays are connected to owner1's over libp2p");
    }

    // Times and the limit count from the first post, not from node start-up.
    start = clock_type::now();
    tally->restart_clock(start);
    auto posting = start;
    std::vector<caf::actor> generators;
    for (std::size_t k = 0; k < options.communities; ++k) {
      traffic_options traffic{options.messages, options.rate / static_cast<double>(options.communities),
                              8, options.payload};
      traffic.late_share = options.late_share;
      traffic.late_by = options.late_by;
      traffic.seed = k + 1;
      traffic.observer = observer;
      traffic.community_id = communities[k].id();
      auto generator = sys.spawn(traffic_generator, communities[k], traffic, owner_relays[k]);
      self->monitor(generator);
      generators.push_back(caf::actor_cast<caf::actor>(generator));
    }
    line("posting " + std::to_string(options.messages) + " messages to each of "
         + std::to_string(options.communities) + " communities at " + fixed(options.rate, 0)
         + " msg/s in all" + (options.late_share > 0
                                ? ", " + fixed(options.late_share * 100) + " % up to "
                                    + std::to_string(options.late_by) + " s late"
                                : std::string{}));

    std::size_t generators_done = 0;
    auto deadline = start + std::chrono::seconds(options.seconds);
    auto next_sample = clock_type::now();
    auto take_sample = [&] {
      load_sample sample;
      sample.seconds = seconds_since(start);
      sample.posted = tally->posted();
      sample.nodes = tally->counts();
      auto rss = read_rss();
      sample.rss_anon_mb = rss.anon_mb;
      sample.rss_file_mb = rss.file_mb;
      result.peak_rss_anon_mb = std::max(result.peak_rss_anon_mb, rss.anon_mb);
      result.peak_rss_file_mb = std::max(result.peak_rss_file_mb, rss.file_mb);
      result.samples.push_back(sample);
      return sample;
    };
    for (;;) {
      // Takes what the generators reported so far, without waiting.
      for (bool more = true; more && generators_done < generators.size();)
        self->receive(
        [&](const caf::down_msg&) {
          if (++generators_done == generators.size()) {
            result.posting_s = seconds_since(posting);
            line("all messages posted in " + fixed(result.posting_s, 2) + " s ("
                 + fixed(static_cast<double>(expected) / result.posting_s, 0) + " msg/s)");
          }
        },
        caf::after(std::chrono::milliseconds(0)) >> [&] { more = false; });
      if (clock_type::now() >= next_sample) {
        next_sample += 1s;
        auto sample = take_sample();
        std::uint64_t stored = 0, archived = 0, imported_min = UINT64_MAX, imported_max = 0;
        for (const auto& name : owner_names) {
          stored += sample.nodes[name].stored;
          archived += sample.nodes[name].archived;
        }
        for (const auto& name : member_names) {
          imported_min = std::min(imported_min, sample.nodes[name].imported);
          imported_max = std::max(imported_max, sample.nodes[name].imported);
        }
        if (member_names.empty())
          imported_min = 0;
        line("posted " + std::to_string(sample.posted) + "/" + std::to_string(expected)
             + "  stored " + std::to_string(stored) + "  archived " + std::to_string(archived)
             + "  imported per member " + std::to_string(imported_min) + ".."
             + std::to_string(imported_max) + "  rss " + fixed(sample.rss_anon_mb, 0) + " MB anon");
      }
      if (generators_done == generators.size() && tally->all_imported(expected)) {
        result.converged = true;
        result.converged_s = seconds_since(start);
        break;
      }
      if (clock_type::now() > deadline)
        break;
      std::this_thread::sleep_for(50ms);
    }
    take_sample();
    if (result.converged) {
      line("converged after " + fixed(result.converged_s, 2) + " s; idle for 3 s");
      std::this_thread::sleep_for(3s);
      result.idle_rss_anon_mb = take_sample().rss_anon_mb;
    } else {
      for (const auto& [member, missing] : tally->lagging())
        line(member + " lacks " + std::to_string(missing) + " posted messages");
      line("NOT converged within " + std::to_string(options.seconds) + " s");
    }
    if (libp2p)
      for (std::size_t i = 0; i < relays.size(); ++i)
        self->request(caf::actor_cast<libp2p_relay_actor>(relays[i]), 10s, status_atom::value)
          .receive([&](const component_status& relay_status) {
                     auto counters = status_line(relay_status);
                     result.relay_counters.push_back(
                       (i < owner_names.size() ? owner_names[i] : member_names[i - owner_names.size()])
                       + ": " + counters);
                   },
                   [&](const caf::error&) {});
    self->request(probe, 10s, status_atom::value)
      .receive(
        [&](const component_status& s) {
          result.lateness_p50_ms = s.value_of("annals_scheduler_lateness_ms", {"quantile", "0.5"});
          result.lateness_p99_ms = s.value_of("annals_scheduler_lateness_ms", {"quantile", "0.99"});
          result.lateness_max_ms = s.value_of("annals_scheduler_lateness_ms", {"quantile", "1"});
          line("scheduler lateness: " + s.state);
        },
        [&](const caf::error&) {});
    for (auto& g : generators)
      self->send_exit(g, caf::exit_reason::user_shutdown);
    shutdown();
  }  // every actor is gone and every store closed

  // The independent check: the files, not the nodes' status.
  line("checking every node's store and the owners' archive files");
  result.latency = tally->summarize_all();
  auto posted = tally->posted_hashes();  // community ID -> hashes
  for (const auto& [c, hashes] : posted)
    result.posted += hashes.size();
  std::unordered_set<std::string> lost_anywhere;
  for (std::size_t k = 0; k < options.communities; ++k) {
    node_check check{owner_names[k]};
    auto db = store::open(root / owner_names[k] / "db");
    if (!db)
      throw std::runtime_error(db.error().to_string());
    auto pub = communities[k].key.public_key();
    std::uint64_t entries = 0;
    auto stored = stored_hashes(**db, pub, entries);
    check.messages = stored.size();
    result.stored += stored.size();
    archive_layout layout{root / owner_names[k], communities[k].id()};
    std::unordered_map<std::string, std::uint32_t> in_archives;
    std::error_code ec;
    if (fs::exists(layout.index_file(), ec)) {
      auto index = read_index(layout.index_file());
      if (!index)
        throw std::runtime_error(index.error().to_string());
      for (const auto& [id, entry] : sorted_entries(*index)) {
        auto archive = read_archive(layout.data_file(), entry);
        if (!archive)
          throw std::runtime_error(id + ": " + archive.error().to_string());
        for (const auto& m : archive->messages())
          ++in_archives[m.hash()];
      }
    }
    for (const auto& [hash, n] : in_archives)
      check.duplicated += n - 1;
    for (const auto& hash : posted[communities[k].id()])
      check.archived += in_archives.count(hash);
    // Stored but in no archive file, whatever the node's queue says.
    for (const auto& [hash, n] : stored)
      check.unarchived += in_archives.count(hash) ? 0 : 1;
    result.archived += check.archived;
    result.duplicated += check.duplicated;
    result.checks.push_back(check);
  }
  for (const auto& member : member_names) {
    node_check check{member};
    auto db = store::open(root / member / "db");
    if (!db)
      throw std::runtime_error(db.error().to_string());
    for (const auto& c : communities) {
      std::uint64_t entries = 0;
      auto held = stored_hashes(**db, c.key.public_key(), entries);
      check.messages += held.size();
      check.duplicated += entries - held.size();
      for (const auto& hash : posted[c.id()])
        if (!held.count(hash)) {
          ++check.missing;
          lost_anywhere.insert(hash);
        }
    }
    result.lost += check.missing;
    result.duplicated += check.duplicated;
    result.checks.push_back(check);
  }
  result.lost_messages = lost_anywhere.size();
  if (result.posted < expected) {
    // Never accepted by the relay: lost before any node saw it.
    result.lost += (expected - result.posted) * std::max<std::size_t>(1, options.members);
    result.lost_messages += expected - result.posted;
  }
  if (temporary) {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  return result;
}

} // namespace annals::bench
