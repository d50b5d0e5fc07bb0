// `annals demo`: one owner and N member nodes as CAF actors, each with its
// own Waku relay host on 127.0.0.1 (libp2p: Noise, yamux, gossipsub; the
// members dial the owner) or all on one in-process relay, and each with its
// own RocksDB and libtorrent session on 127.0.0.1. A traffic generator posts to the community's channels; the owner
// builds archives on a short interval, seeds them and announces a signed
// magnet link; every member verifies the link, fetches only the archives it
// lacks, imports them and seeds in turn.
#include "actors/inprocess_relay.hpp"
#include "actors/libp2p_relay.hpp"
#include "storage/store_server.hpp"
#include "net/p2p/host.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "app/actor_errors.hpp"
#include "app/commands.hpp"
#include "app/progress.hpp"
#include <annals/log.hpp>
#include "actors/traffic_generator.hpp"
#include "core/archive_reader.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace annals::app {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct demo_options {
  std::string data_dir;
  std::size_t messages = 5000;
  double rate = 2500;
  std::size_t channels = 4;
  std::uint64_t interval = 3;
  std::uint64_t seconds = 90;
  std::string events;
  std::size_t members = 3;
  /// Members that join only after the owner's first announcement, with no
  /// re-announcement: they learn the link from the owner's Waku store.
  std::size_t late_members = 1;
  std::string relay = "libp2p";  // or "inprocess"
  double late_share = 0;
  std::uint64_t late_by = 60;
  std::string log_level = "info";
  std::string log_format = "text";
};


/// A blocking request with the demo's error handling. High priority: a
/// node busy with a backlog of relayed messages still answers at once.
template <class Reply, class Handle, class OnError, class... Ts>
Reply ask(caf::scoped_actor& self, const Handle& handle, OnError& on_error, Ts&&... xs) {
  Reply out{};
  self->template request<caf::message_priority::high>(handle, 30s, std::forward<Ts>(xs)...)
    .receive([&](const Reply& reply) { out = reply; },
             [&](const caf::error& err) { on_error(err); });
  return out;
}

void run_demo(const demo_options& options) {
  namespace fs = std::filesystem;
  fs::path root = options.data_dir;
  bool temporary = root.empty();
  if (temporary) {
    char pattern[] = "/tmp/annals-demo-XXXXXX";
    if (!::mkdtemp(pattern))
      fail("cannot create a temporary directory under /tmp");
    root = pattern;
  }
  auto p = std::make_shared<progress>();
  if (options.events == "-")
    p->out = stderr;  // stdout carries the JSON events
  log_options logging;
  logging.level = *parse_log_level(options.log_level);
  logging.format = *parse_log_format(options.log_format);
  logging.out = p->out;
  configure_log(logging);
  p->line("demo", "data in " + root.string() + (temporary ? " (removed at exit)" : ""));

  node_system_config cfg;
  caf::actor_system sys{cfg};
  // The owner's relay; with libp2p each member gets its own, dialling it.
  std::vector<relay_actor> relays;
  auto libp2p = options.relay == "libp2p";
  std::string owner_address;
  // Connection lines until the demo is over; its own teardown is no news.
  auto quiet = std::make_shared<std::atomic<bool>>(false);
  auto relay_log = [quiet](std::string who) {
    return [quiet, who](p2p::host_log_level level, const std::string& line) {
      if (!*quiet)
        log_line(to_log_level(level), who, "relay: " + line);
    };
  };
  // Each libp2p node serves the Waku store from its own store.
  std::map<std::string, std::shared_ptr<store_query_server>> store_servers;
  auto spawn_relay = [&](const std::string& who, std::vector<std::string> peers) -> relay_actor {
    if (!libp2p)
      return sys.spawn(inprocess_relay);  // the owner's, which every node shares
    p2p::host_config host;
    host.listen = {"/ip4/127.0.0.1/tcp/0"};
    host.static_peers = std::move(peers);
    host.agent_version = "annals-demo";
    auto server = store_servers[who] = std::make_shared<store_query_server>();
    host.store_query = [server](const std::string& peer, std::string_view request) {
      return server->answer(peer, request);
    };
    auto spawned = spawn_libp2p_relay(sys, host, relay_log(who));
    if (!spawned)
      fail(sys, spawned.error(), who);
    return *spawned;
  };
  auto relay = spawn_relay("owner", {});
  relays.push_back(relay);
  if (libp2p) {
    caf::scoped_actor ask_self{sys};
    ask_self->request(caf::actor_cast<libp2p_relay_actor>(relay), 10s, listen_atom::value)
      .receive([&](const std::string& id, const std::vector<std::string>& addrs) {
                 owner_address = addrs.at(0);
                 p->line("owner", "Waku relay peer " + id + " on " + owner_address);
               },
               [&](const caf::error& err) { fail(sys, err); });
  }
  auto community = synthetic_community::make(options.channels, 2026);
  auto pub = community.key.public_key();

  node_config config;
  config.data_dir = root / "owner";
  config.torrent.listen = "127.0.0.1:0";
  config.torrent.loopback = true;
  config.torrent.advertise_address = true;
  config.archives.interval = options.interval;
  config.relay = relay;
  config.name = "owner";
  if (libp2p) {
    config.waku_store.serve = config.waku_store.sync = true;
  }
  config.subscribers.push_back(sys.spawn(owner_progress, p, std::string("owner")));
  add_event_writer(sys, config, options.events);
  node_hooks owner_hooks;
  owner_hooks.store_server = store_servers["owner"];
  auto node = spawn_node(sys, config, owner_hooks);
  if (!node)
    fail(sys, node.error());
  std::vector<node_actor> members;
  caf::scoped_actor self{sys};
  auto shutdown = [&] {
    *quiet = true;
    self->send_exit(*node, caf::exit_reason::user_shutdown);
    for (auto& m : members)
      self->send_exit(m, caf::exit_reason::user_shutdown);
    // Members' relays first: the owner's closing first would make them redial.
    for (auto it = relays.rbegin(); it != relays.rend(); ++it)
      self->send_exit(*it, caf::exit_reason::user_shutdown);
  };
  auto failed = [&](const caf::error& err) {
    shutdown();
    fail(sys, err);
  };
  ask<std::string>(self, *node, failed, create_atom::value,
                   community_spec{to_hex(community.key.bytes()), community.channel_ids, false, {}});
  p->line("owner", "controls community " + pub.community_id());

  auto add_member = [&](std::size_t i) {
    auto who = "member" + std::to_string(i + 1);
    node_config member = config;
    member.data_dir = root / who;
    member.name = who;
    member.subscribers = {sys.spawn(member_progress, p, who)};
    if (libp2p) {
      member.relay = spawn_relay(who, {owner_address});
      relays.push_back(member.relay);
    }
    node_hooks member_hooks;
    member_hooks.store_server = store_servers[who];
    auto spawned = spawn_node(sys, member, member_hooks);
    if (!spawned) {
      shutdown();
      fail(sys, spawned.error(), who);
    }
    members.push_back(*spawned);
    ask<std::string>(self, *spawned, failed, join_atom::value,
                     membership_spec{pub.community_id(), community.channel_ids, {}});
    p->line(who, "joined the community");
  };
  for (std::size_t i = 0; i < options.members; ++i)
    add_member(i);
  std::size_t late_members = libp2p ? options.late_members : 0;

  if (libp2p) {
    // Links are announced once per torrent: every member must hear the first.
    auto connected = [&] {
      return ask<std::vector<std::string>>(self, relay, failed, peers_atom::value).size();
    };
    auto wait_until = clock_type::now() + 20s;
    while (connected() < options.members) {
      if (clock_type::now() > wait_until) {
        shutdown();
        fail("members did not connect to the owner's relay within 20 s");
      }
      std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(300ms);  // their subscriptions are on the way
    p->line("owner", "all " + std::to_string(options.members) + " members are connected over libp2p");
  }

  traffic_options traffic{options.messages, options.rate, 8, 200};
  traffic.late_share = options.late_share;
  traffic.late_by = options.late_by;
  traffic.community_id = pub.community_id();
  std::string late_note;
  if (options.late_share > 0) {
    std::ostringstream note;
    note << "; " << options.late_share * 100 << " % of them up to " << options.late_by
         << " s late";
    late_note = note.str();
  }
  p->line("traffic", "posting " + std::to_string(options.messages) + " messages to "
                       + std::to_string(options.channels) + " channels" + late_note
                       + "; archive interval " + std::to_string(options.interval) + " s");
  auto started = clock_type::now();
  auto generator = sys.spawn(traffic_generator, community, traffic, relay);
  self->monitor(generator);
  auto deadline = started + std::chrono::seconds(options.seconds);
  bool generated = false;
  while (!generated && clock_type::now() < deadline)
    self->receive([&](const caf::down_msg&) { generated = true; }, caf::after(200ms) >> [] {});
  if (generated) {
    p->line("traffic", "all messages are on the relay");
  } else {
    p->line("traffic", "still posting at the time limit");
  }

  // Converged: the owner stored every posted message and archived every
  // stored one, and each member imported every archive of the owner's
  // current link and holds exactly the owner's stored set.
  community_status owner;
  std::vector<community_status> member_status(members.size());
  std::vector<double> member_seconds(members.size(), 0);
  auto member_done = [&](const community_status& m) {
    return m.messages == owner.messages && m.imported == m.archives
           && m.archives == owner.archives && m.last_magnet_uri == owner.last_magnet_uri;
  };
  auto converged = [&] {
    owner = ask<community_status>(self, *node, failed, status_atom::value, pub.community_id());
    bool owner_done = owner.messages == options.messages && owner.unarchived == 0
                      && !owner.last_magnet_uri.empty();
    bool all = owner_done;
    for (std::size_t i = 0; i < members.size(); ++i) {
      member_status[i] =
        ask<community_status>(self, members[i], failed, status_atom::value, pub.community_id());
      bool done = owner_done && member_done(member_status[i]);
      if (done && member_seconds[i] == 0)
        member_seconds[i] = std::chrono::duration<double>(clock_type::now() - started).count();
      all = all && done;
    }
    return all;
  };
  // The late members join once the owner announced its first link (and,
  // welcome_gap being 0, will not announce it again for them).
  if (late_members > 0) {
    while (clock_type::now() < deadline
           && ask<community_status>(self, *node, failed, status_atom::value, pub.community_id())
                .last_magnet_uri.empty())
      std::this_thread::sleep_for(100ms);
    for (std::size_t i = 0; i < late_members; ++i) {
      p->line("member" + std::to_string(options.members + i + 1),
              "joins after the owner's announcement: it asks the owner's Waku store for the link");
      add_member(options.members + i);
    }
    member_status.resize(members.size());
    member_seconds.resize(members.size(), 0);
  }
  bool ok = true;
  auto last_report = clock_type::now();
  while (!converged()) {
    if (clock_type::now() > deadline) {
      ok = false;
      break;
    }
    if (clock_type::now() - last_report > 10s) {
      last_report = clock_type::now();
      std::size_t synced = 0;
      for (const auto& m : member_status)
        synced += member_done(m) ? 1 : 0;
      p->line("demo", "owner stored " + std::to_string(owner.messages) + " of "
                        + std::to_string(options.messages) + ", " + std::to_string(owner.unarchived)
                        + " not archived yet; " + std::to_string(synced) + " of "
                        + std::to_string(members.size()) + " members hold them all");
    }
    std::this_thread::sleep_for(200ms);
  }
  // How the late members learned the link: the store sync's own counters.
  for (std::size_t i = options.members; i < members.size(); ++i) {
    double links = 0, tail = 0;
    for (const auto& part :
         ask<std::vector<component_status>>(self, members[i], failed, status_atom::value))
      for (const auto& m : part.metrics) {
        if (m.name == "annals_store_links_found_total")
          links = m.value;
        if (m.name == "annals_store_messages_gap_filled_total")
          tail = m.value;
      }
    p->line("member" + std::to_string(i + 1),
            "found " + std::to_string(static_cast<long>(links))
              + " magnet-link messages and " + std::to_string(static_cast<long>(tail))
              + " newer channel messages through the owner's Waku store");
  }
  self->send_exit(generator, caf::exit_reason::user_shutdown);  // before its relay
  shutdown();

  // The table, whether or not the run converged: a lagging node is named
  // with what it lacks.
  std::ostringstream table;
  table << "\n" << std::left << std::setw(10) << "node" << std::right << std::setw(10)
        << "archives" << std::setw(12) << "messages" << std::setw(13) << "unarchived"
        << std::setw(16) << "bytes fetched" << std::setw(12) << "ready at s" << "  lag\n"
        << std::left << std::setw(10) << "owner" << std::right << std::setw(10) << owner.archives
        << std::setw(12) << owner.messages << std::setw(13) << owner.unarchived << std::setw(16)
        << "-" << std::setw(12) << "-";
  if (owner.messages != options.messages)
    table << "  " << (options.messages - std::min<std::uint64_t>(owner.messages, options.messages))
          << " posted messages not stored";
  else if (owner.unarchived > 0)
    table << "  " << owner.unarchived << " stored messages not archived yet";
  table << "\n";
  std::size_t lagging = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& m = member_status[i];
    table << std::left << std::setw(10) << ("member" + std::to_string(i + 1)) << std::right
          << std::setw(10) << m.archives << std::setw(12) << m.messages << std::setw(13) << "-"
          << std::setw(16) << m.bytes_fetched << std::setw(12) << std::fixed
          << std::setprecision(2) << member_seconds[i];
    if (!member_done(m)) {
      ++lagging;
      table << "  lags by " << (owner.messages > m.messages ? owner.messages - m.messages : 0)
            << " messages, " << (owner.archives > m.archives ? owner.archives - m.archives : 0)
            << " archives";
      if (m.imported < m.archives)
        table << " (" << (m.archives - m.imported) << " downloaded, not imported)";
      if (m.last_magnet_uri != owner.last_magnet_uri)
        table << "; not on the owner's current link";
    }
    table << "\n";
  }
  std::fprintf(p->out, "%s\n", table.str().c_str());
  if (!ok) {
    if (temporary)
      fs::remove_all(root);
    fail("not converged within " + std::to_string(options.seconds) + " s: "
         + std::to_string(lagging) + " of " + std::to_string(members.size())
         + " members lag; the owner stored " + std::to_string(owner.messages) + " of "
         + std::to_string(options.messages) + " posted messages, "
         + std::to_string(owner.unarchived) + " of them not archived yet");
  }
  p->line("demo", "OK: the owner archived all " + std::to_string(owner.messages)
                    + " stored messages and all " + std::to_string(members.size())
                    + " members hold exactly them");
  if (temporary)
    fs::remove_all(root);
}

} // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<demo_options>();
  auto* cmd = app.add_subcommand(
    "demo", "An owner node archives a community's relayed messages, seeds them and announces "
            "a signed magnet link; member nodes verify it, fetch over loopback and import");
  cmd->add_option("--data-dir", options->data_dir, "Keep everything here (default: a temp dir)");
  cmd->add_option("--messages", options->messages, "Messages to post")->capture_default_str();
  cmd->add_option("--rate", options->rate, "Messages per second")->capture_default_str();
  cmd->add_option("--channels", options->channels, "Channels of the community")
    ->capture_default_str();
  cmd->add_option("--interval", options->interval, "Archive interval in seconds")
    ->capture_default_str();
  cmd->add_option("--seconds", options->seconds, "Time limit")->capture_default_str();
  cmd->add_option("--members", options->members, "Member nodes")->capture_default_str();
  cmd->add_option("--late-members", options->late_members,
                  "Member nodes that join after the owner's first announcement and learn the "
                  "link from its Waku store (libp2p only)")
    ->capture_default_str();
  cmd->add_option("--relay", options->relay,
                  "libp2p: a Waku relay host per node on 127.0.0.1 (members dial the owner); "
                  "inprocess: one relay inside the process")
    ->check(CLI::IsMember({"libp2p", "inprocess"}))
    ->capture_default_str();
  cmd->add_option("--late-share", options->late_share,
                  "Share of messages (0..1) posted with a timestamp in the past")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();
  cmd->add_option("--late-by", options->late_by,
                  "How far in the past a late message's timestamp is, at most (seconds)")
    ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{365} * 24 * 3600))
    ->capture_default_str();
  cmd->add_option("--events", options->events,
                  "Write status-go signal JSON lines to FILE, or - for stdout");
  add_log_options(*cmd, options->log_level, options->log_format);
  cmd->callback([options] { run_demo(*options); });
}

} // namespace annals::app
