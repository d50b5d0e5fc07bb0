// `annals demo`: one owner and N member nodes as CAF actors, each with its
// own Waku relay host on 127.0.0.1 (libp2p: Noise, yamux, gossipsub; the
// members dial the owner) or all on one in-process relay, and each with its
// own RocksDB and libtorrent session on 127.0.0.1. A traffic generator posts to the community's channels; the owner
// builds archives on a short interval, seeds them and announces a signed
// magnet link; every member verifies the link, fetches only the archives it
// lacks, imports them and seeds in turn.
#include "actors/inprocess_relay.hpp"
#include "actors/libp2p_relay.hpp"
#include "net/p2p/host.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "app/commands.hpp"
#include "app/progress.hpp"
#include "bench/traffic_generator.hpp"
#include "core/archive_reader.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iomanip>
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
  std::string relay = "libp2p";  // or "inprocess"
};

struct demo_config : caf::actor_system_config {
  demo_config() {
    register_types(*this);
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// A blocking request with the demo's error handling.
template <class Reply, class Handle, class OnError, class... Ts>
Reply ask(caf::scoped_actor& self, const Handle& handle, OnError& on_error, Ts&&... xs) {
  Reply out{};
  self->request(handle, 10s, std::forward<Ts>(xs)...)
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
  p->line("demo", "data in " + root.string() + (temporary ? " (removed at exit)" : ""));

  demo_config cfg;
  caf::actor_system sys{cfg};
  // The owner's relay; with libp2p each member gets its own, dialling it.
  std::vector<relay_actor> relays;
  auto libp2p = options.relay == "libp2p";
  std::string owner_address;
  // Connection lines until the demo is over; its own teardown is no news.
  auto quiet = std::make_shared<std::atomic<bool>>(false);
  auto relay_log = [p, quiet](std::string who) {
    return [p, quiet, who](const std::string& line) {
      if (!*quiet)
        p->line(who, "relay: " + line);
    };
  };
  auto spawn_relay = [&](const std::string& who, std::vector<std::string> peers) -> relay_actor {
    if (!libp2p)
      return sys.spawn(inprocess_relay);  // the owner's, which every node shares
    p2p::host_config host;
    host.listen = {"/ip4/127.0.0.1/tcp/0"};
    host.static_peers = std::move(peers);
    host.agent_version = "annals-demo";
    auto spawned = spawn_libp2p_relay(sys, host, relay_log(who));
    if (!spawned)
      fail(who + ": " + sys.render(spawned.error()));
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
               [&](const caf::error& err) { fail(sys.render(err)); });
  }
  auto community = synthetic_community::make(options.channels, 2026);
  auto pub = community.key.public_key();

  node_config config;
  config.data_dir = root / "owner";
  config.torrent_listen = "127.0.0.1:0";
  config.torrent_loopback = true;
  config.advertise_torrent_address = true;
  config.archive_interval = options.interval;
  config.relay = relay;
  config.subscribers.push_back(sys.spawn(owner_progress, p, std::string("owner")));
  add_event_writer(sys, config, options.events);
  auto node = spawn_node(sys, config);
  if (!node)
    fail(sys.render(node.error()));
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
    fail(sys.render(err));
  };
  ask<std::string>(self, *node, failed, create_atom::value,
                   community_spec{to_hex(community.key.bytes()), community.channel_ids});
  p->line("owner", "controls community " + pub.community_id());

  for (std::size_t i = 0; i < options.members; ++i) {
    auto who = "member" + std::to_string(i + 1);
    node_config member = config;
    member.data_dir = root / who;
    member.subscribers = {sys.spawn(member_progress, p, who)};
    if (libp2p) {
      member.relay = spawn_relay(who, {owner_address});
      relays.push_back(member.relay);
    }
    auto spawned = spawn_node(sys, member);
    if (!spawned) {
      shutdown();
      fail(who + ": " + sys.render(spawned.error()));
    }
    members.push_back(*spawned);
    ask<std::string>(self, *spawned, failed, join_atom::value,
                     membership_spec{pub.community_id(), community.channel_ids});
    p->line(who, "joined the community");
  }

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

  p->line("traffic", "posting " + std::to_string(options.messages) + " messages to "
                       + std::to_string(options.channels) + " channels; archive interval "
                       + std::to_string(options.interval) + " s");
  auto started = clock_type::now();
  auto generator = sys.spawn(traffic_generator, community,
                             traffic_options{options.messages, options.rate, 8, 200}, relay);
  self->monitor(generator);
  auto deadline = started + std::chrono::seconds(options.seconds);
  bool generated = false;
  while (!generated && clock_type::now() < deadline)
    self->receive([&](const caf::down_msg&) { generated = true; }, caf::after(200ms) >> [] {});
  p->line("traffic", "all messages are on the relay");

  // Converged: the owner archived every message and each member imported
  // every archive of the owner's current link.
  std::vector<community_status> member_status(members.size());
  std::vector<double> member_seconds(members.size(), 0);
  auto converged = [&] {
    auto owner = ask<community_status>(self, *node, failed, status_atom::value, pub.community_id());
    if (owner.last_magnet_uri.empty())
      return false;
    bool all = true;
    for (std::size_t i = 0; i < members.size(); ++i) {
      member_status[i] =
        ask<community_status>(self, members[i], failed, status_atom::value, pub.community_id());
      bool done = member_status[i].messages == options.messages
                  && member_status[i].imported == member_status[i].archives
                  && member_status[i].last_magnet_uri == owner.last_magnet_uri;
      if (done && member_seconds[i] == 0)
        member_seconds[i] = std::chrono::duration<double>(clock_type::now() - started).count();
      all = all && done;
    }
    return all;
  };
  while (!converged()) {
    if (clock_type::now() > deadline) {
      shutdown();
      fail("members did not converge within " + std::to_string(options.seconds) + " s");
    }
    std::this_thread::sleep_for(200ms);
  }
  auto owner = ask<community_status>(self, *node, failed, status_atom::value, pub.community_id());
  shutdown();

  std::ostringstream table;
  table << "\n" << std::left << std::setw(10) << "node" << std::right << std::setw(10)
        << "archives" << std::setw(12) << "messages" << std::setw(16) << "bytes fetched"
        << std::setw(12) << "ready at s" << "\n"
        << std::left << std::setw(10) << "owner" << std::right << std::setw(10) << owner.archives
        << std::setw(12) << owner.messages << std::setw(16) << "-" << std::setw(12) << "-"
        << "\n";
  for (std::size_t i = 0; i < members.size(); ++i)
    table << std::left << std::setw(10) << ("member" + std::to_string(i + 1)) << std::right
          << std::setw(10) << member_status[i].archives << std::setw(12)
          << member_status[i].messages << std::setw(16) << member_status[i].bytes_fetched
          << std::setw(12) << std::fixed << std::setprecision(2) << member_seconds[i] << "\n";
  std::fprintf(p->out, "%s\n", table.str().c_str());
  p->line("demo", "OK: all " + std::to_string(members.size()) + " members hold exactly the owner's "
                    + std::to_string(owner.messages) + " archived messages");
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
  cmd->add_option("--relay", options->relay,
                  "libp2p: a Waku relay host per node on 127.0.0.1 (members dial the owner); "
                  "inprocess: one relay inside the process")
    ->check(CLI::IsMember({"libp2p", "inprocess"}))
    ->capture_default_str();
  cmd->add_option("--events", options->events,
                  "Write status-go signal JSON lines to FILE, or - for stdout");
  cmd->callback([options] { run_demo(*options); });
}

} // namespace annals::app
