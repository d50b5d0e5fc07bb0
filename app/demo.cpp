// `annals demo`: an owner node as CAF actors on the in-process relay, fed by
// a traffic generator; archives built on a short interval, seeded with real
// libtorrent on 127.0.0.1 and announced with a signed magnet link. A member
// then verifies the link it sees on the relay, fetches the archives by it
// over loopback, and imports them into its own store.
#include "actors/inprocess_relay.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "app/commands.hpp"
#include "bench/traffic_generator.hpp"
#include "core/archive_reader.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

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
};

/// What the demo's observers saw, read by the main thread.
struct progress {
  std::mutex mutex;
  clock_type::time_point start = clock_type::now();
  std::FILE* out = stdout;
  std::uint64_t archived_until = 0;  // `to` of the newest created archive
  std::string verified_magnet;       // newest link that verified on the relay
  std::uint64_t verified_clock = 0;
  std::uint64_t verified_after = 0;  // archived_until when it verified
  std::size_t rejected = 0;

  void line(const std::string& who, const std::string& text) {
    std::lock_guard lock(mutex);
    auto t = std::chrono::duration<double>(clock_type::now() - start).count();
    std::fprintf(out, "[%6.2fs] %-7s %s\n", t, who.c_str(), text.c_str());
    std::fflush(out);
  }
};

struct demo_config : caf::actor_system_config {
  demo_config() {
    register_types(*this);
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// A readable line for each signal the owner emits.
struct describe_signal {
  using result_type = std::string;
  std::string operator()(const creating_history_archives&) const { return "creating archives"; }
  std::string operator()(const history_archives_created& x) const {
    return "archives created for [" + std::to_string(x.from) + ", " + std::to_string(x.to) + ")";
  }
  std::string operator()(const no_history_archives_created& x) const {
    return "nothing new to archive in [" + std::to_string(x.from) + ", " + std::to_string(x.to) + ")";
  }
  std::string operator()(const history_archives_seeding&) const { return "seeding the torrent"; }
  std::string operator()(const magnetlink_published& x) const {
    return "published the signed magnet link (clock " + std::to_string(x.clock) + ")";
  }
  std::string operator()(const magnetlink_rejected& x) const {
    return "rejected a magnet link: " + x.reason;
  }
  template <class T>
  std::string operator()(const T& x) const {
    return signal_type(signal{x});
  }
};

signal_sink_actor::behavior_type owner_progress(signal_sink_actor::pointer,
                                                std::shared_ptr<progress> p) {
  return {[=](const signal& s) {
    if (auto* created = caf::get_if<history_archives_created>(&s)) {
      std::lock_guard lock(p->mutex);
      p->archived_until = std::max(p->archived_until, created->to);
    }
    p->line("owner", caf::visit(describe_signal{}, s));
  }};
}

/// A member's view of the magnetlinks topic: every message is opened and
/// verified against the community key before its link is believed.
relay_sink_actor::behavior_type magnetlink_watcher(relay_sink_actor::pointer,
                                                   std::shared_ptr<progress> p,
                                                   magnetlink_channel channel) {
  return {[=](const waku_envelope& envelope) {
    waku::WakuMessage message;
    if (!message.ParseFromString(envelope.message)) {
      std::lock_guard lock(p->mutex);
      ++p->rejected;
      return;
    }
    auto opened = open_magnetlink_waku_message(message, channel);
    if (!opened) {
      p->line("member", "ignored a magnet link: " + opened.error().to_string());
      std::lock_guard lock(p->mutex);
      ++p->rejected;
      return;
    }
    {
      std::lock_guard lock(p->mutex);
      if (opened->message.link.clock <= p->verified_clock)
        return;
      p->verified_clock = opened->message.link.clock;
      p->verified_magnet = opened->message.link.magnet_uri;
      p->verified_after = p->archived_until;
    }
    p->line("member", "verified a magnet link signed by the community: "
                        + opened->message.link.magnet_uri.substr(0, 60) + "...");
  }};
}

struct member_result {
  std::uint64_t bytes = 0;
  double fetch_seconds = 0;
  std::size_t imported = 0;
  double import_seconds = 0;
};

/// Fetches the community's archives by magnet link and imports them.
member_result member_fetch_and_import(const std::string& magnet, const std::filesystem::path& root,
                                      const public_key& community, std::uint64_t limit_seconds,
                                      progress& p) {
  member_result r;
  auto session = take(torrent_session::start(loopback_session_options()));
  auto t = clock_type::now();
  auto hash = take(session->fetch(magnet, root / "archivedata"));
  auto last_print = clock_type::now();
  for (;;) {
    for (const auto& event : session->poll(50ms))
      if (event.what == torrent_event::kind::error)
        fail("member download: " + event.message);
    auto status = take(session->progress(hash));
    if (status.finished || status.seeding) {
      r.bytes = status.total_download;
      break;
    }
    if (clock_type::now() - t > std::chrono::seconds(limit_seconds))
      fail("member download did not finish within " + std::to_string(limit_seconds) + " s");
    if (clock_type::now() - last_print > 500ms) {
      last_print = clock_type::now();
      auto pct = status.total_wanted ? 100 * status.total_wanted_done / status.total_wanted : 0;
      p.line("member", (status.has_metadata ? "downloading " : "waiting for metadata ")
                         + std::to_string(pct) + " %");
    }
  }
  r.fetch_seconds = std::chrono::duration<double>(clock_type::now() - t).count();
  p.line("member", "downloaded " + std::to_string(r.bytes) + " bytes");

  archive_layout layout{root, community.community_id()};
  auto verified = take(verify_archive_dir(layout.archive_dir()));
  if (!verified.ok())
    fail("fetched archives fail verification: " + verified.problems.front());
  auto db = take(store::open(root / "db"));
  std::vector<built_archive> held;
  for (const auto& a : verified.archives)
    held.push_back({a.id, a.entry, a.message_count});
  take(db->mark_archives_downloaded(community, held));
  t = clock_type::now();
  for (const auto& archive : held) {
    auto decoded = take(read_archive(layout.data_file(), archive.entry));
    std::vector<archive_message> batch;
    for (const auto& m : decoded.messages())
      batch.push_back(from_proto(m));
    r.imported += take(db->import_archive_messages(community, archive.id, batch, true)).inserted;
  }
  r.import_seconds = std::chrono::duration<double>(clock_type::now() - t).count();
  p.line("member", "imported " + std::to_string(r.imported) + " messages from "
                     + std::to_string(held.size()) + " archives");
  return r;
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
  auto relay = sys.spawn(inprocess_relay);
  auto community = synthetic_community::make(options.channels, 2026);
  auto pub = community.key.public_key();

  node_config config;
  config.data_dir = root / "owner";
  config.torrent_listen = "127.0.0.1:0";
  config.torrent_loopback = true;
  config.advertise_torrent_address = true;
  config.archive_interval = options.interval;
  config.relay = relay;
  config.subscribers.push_back(sys.spawn(owner_progress, p));
  if (!options.events.empty()) {
    std::FILE* out = options.events == "-" ? stdout : std::fopen(options.events.c_str(), "a");
    if (out == nullptr)
      fail(options.events + ": cannot open for appending", exit_bad_input);
    config.subscribers.push_back(sys.spawn(event_writer, out, options.events != "-"));
  }
  auto node = spawn_node(sys, config);
  if (!node)
    fail(sys.render(node.error()));
  auto channel = magnetlink_channel::of(pub);
  caf::anon_send(relay, subscribe_atom::value, pubsub_topic(),
                 std::vector<std::string>{content_topic(channel.topic)},
                 sys.spawn(magnetlink_watcher, p, channel));

  caf::scoped_actor self{sys};
  auto shutdown = [&] {
    self->send_exit(*node, caf::exit_reason::user_shutdown);
    self->send_exit(relay, caf::exit_reason::user_shutdown);
  };
  self->request(*node, 10s, create_atom::value,
                community_spec{to_hex(community.key.bytes()), community.channel_ids})
    .receive([&](const std::string& id) { p->line("owner", "controls community " + id); },
             [&](const caf::error& err) {
               shutdown();
               fail("creating the community: " + sys.render(err));
             });

  p->line("traffic", "posting " + std::to_string(options.messages) + " messages to "
                       + std::to_string(options.channels) + " channels; archive interval "
                       + std::to_string(options.interval) + " s");
  auto generator = sys.spawn(traffic_generator, community,
                             traffic_options{options.messages, options.rate, 8, 200}, relay);
  self->monitor(generator);
  std::uint64_t newest = 0;
  auto deadline = clock_type::now() + std::chrono::seconds(options.seconds);
  bool generated = false;
  while (!generated && clock_type::now() < deadline) {
    self->request(generator, 5s, status_atom::value)
      .receive([&](std::uint64_t, std::uint64_t ts) { newest = std::max(newest, ts); },
               [&](const caf::error&) {});
    self->receive([&](const caf::down_msg&) { generated = true; }, caf::after(200ms) >> [] {});
  }
  p->line("traffic", "all messages are on the relay");

  // Wait until a verified link covers the newest message.
  std::string magnet;
  while (clock_type::now() < deadline) {
    {
      std::lock_guard lock(p->mutex);
      if (!p->verified_magnet.empty() && p->verified_after > newest)
        magnet = p->verified_magnet;
    }
    if (!magnet.empty())
      break;
    std::this_thread::sleep_for(50ms);
  }
  if (magnet.empty()) {
    shutdown();
    fail("no verified magnet link covering all messages within " + std::to_string(options.seconds)
         + " s");
  }

  auto member = member_fetch_and_import(magnet, root / "member", pub, options.seconds, *p);
  shutdown();

  archive_layout owner_layout{root / "owner", pub.community_id()};
  auto owner_archives = take(verify_archive_dir(owner_layout.archive_dir()));
  std::size_t owner_messages = 0;
  for (const auto& a : owner_archives.archives)
    owner_messages += a.message_count;
  std::ostringstream table;
  table << "\n"
        << std::left << std::setw(34) << "owner: messages posted" << options.messages << "\n"
        << std::setw(34) << "owner: archives / messages" << owner_archives.archives.size() << " / "
        << owner_messages << "\n"
        << std::setw(34) << "member: bytes fetched / seconds" << member.bytes << " / "
        << std::fixed << std::setprecision(2) << member.fetch_seconds << "\n"
        << std::setw(34) << "member: messages imported / s" << member.imported << " / "
        << member.import_seconds << "\n";
  std::fprintf(p->out, "%s\n", table.str().c_str());
  if (owner_messages != options.messages || member.imported != options.messages)
    fail("the member holds " + std::to_string(member.imported) + " messages; "
         + std::to_string(options.messages) + " were posted, " + std::to_string(owner_messages)
         + " archived");
  p->line("demo", "OK: every posted message was archived, announced, fetched and imported");
  if (temporary)
    fs::remove_all(root);
}

} // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<demo_options>();
  auto* cmd = app.add_subcommand(
    "demo", "An owner node archives a community's relayed messages, seeds them and announces "
            "a signed magnet link; a member verifies it, fetches over loopback and imports");
  cmd->add_option("--data-dir", options->data_dir, "Keep everything here (default: a temp dir)");
  cmd->add_option("--messages", options->messages, "Messages to post")->capture_default_str();
  cmd->add_option("--rate", options->rate, "Messages per second")->capture_default_str();
  cmd->add_option("--channels", options->channels, "Channels of the community")
    ->capture_default_str();
  cmd->add_option("--interval", options->interval, "Archive interval in seconds")
    ->capture_default_str();
  cmd->add_option("--seconds", options->seconds, "Time limit")->capture_default_str();
  cmd->add_option("--events", options->events,
                  "Write status-go signal JSON lines to FILE, or - for stdout");
  cmd->callback([options] { run_demo(*options); });
}

} // namespace annals::app
