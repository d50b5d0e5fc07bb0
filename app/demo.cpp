// `annals demo`: the foundation end to end in one process, with real
// components: a community's messages in RocksDB, status-go archives built
// from the store, a v1 torrent, and a second libtorrent session fetching it
// by magnet link over loopback, then importing it into its own store.
#include "app/commands.hpp"
#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <thread>

namespace annals::app {

namespace {

using clock_type = std::chrono::steady_clock;

struct demo_options {
  std::string data_dir;
  std::size_t messages = 100'000;
  std::size_t channels = 4;
  std::uint64_t weeks = 4;
  std::uint64_t seconds = 120;  // overall limit for the transfer
};

double since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

void step(const std::string& text) {
  std::cout << "==> " << text << std::endl;
}

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  return fa && fb
         && std::equal(std::istreambuf_iterator<char>(fa), std::istreambuf_iterator<char>(),
                       std::istreambuf_iterator<char>(fb), std::istreambuf_iterator<char>());
}

record::Community community_record(const synthetic_community& community, bool owner) {
  record::Community rec;
  auto pub = community.key.public_key();
  rec.set_public_key(std::string(as_view(pub.compressed())));
  if (owner)
    rec.set_private_key(std::string(as_view(community.key.bytes())));
  for (std::size_t i = 0; i < community.channel_ids.size(); ++i) {
    auto* channel = rec.add_channels();
    channel->set_id(community.channel_ids[i]);
    channel->set_topic(std::string(as_view(community.channel_topics[i])));
  }
  rec.set_shard_cluster(default_shard_cluster);
  rec.set_shard_index(default_shard_index);
  rec.set_joined(true);
  rec.set_role(owner ? record::Community::OWNER : record::Community::MEMBER);
  rec.set_archives_enabled(true);
  return rec;
}

void run_demo(const demo_options& options) {
  namespace fs = std::filesystem;
  auto total_start = clock_type::now();
  fs::path root = options.data_dir;
  bool temporary = root.empty();
  if (temporary) {
    char pattern[] = "/tmp/annals-demo-XXXXXX";
    if (!::mkdtemp(pattern))
      fail("cannot create a temporary directory under /tmp");
    root = pattern;
  }
  std::cout << "annals demo in " << root.string() << (temporary ? " (removed at exit)" : "")
            << "\n";

  // -- owner: a community and its traffic in RocksDB ------------------------
  auto community = synthetic_community::make(options.channels, 2026);
  auto pub = community.key.public_key();
  auto owner_store = take(store::open(root / "owner" / "db"));
  take(owner_store->put_community(community_record(community, true)));
  std::uint64_t end = static_cast<std::uint64_t>(std::time(nullptr));
  std::uint64_t start = end - options.weeks * default_partition_seconds;
  step("owner: community " + pub.community_id() + ", " + std::to_string(options.channels)
       + " channels; storing " + std::to_string(options.messages) + " messages over "
       + std::to_string(options.weeks) + " weeks");
  auto t = clock_type::now();
  synthetic_traffic traffic;
  traffic.count = options.messages;
  traffic.from = start;
  traffic.to = end;
  auto messages = make_synthetic_messages(community, traffic);
  constexpr std::size_t batch = 10'000;
  for (std::size_t i = 0; i < messages.size(); i += batch) {
    std::vector<archive_message> chunk(messages.begin() + static_cast<std::ptrdiff_t>(i),
                                       messages.begin()
                                         + static_cast<std::ptrdiff_t>(std::min(i + batch, messages.size())));
    take(owner_store->insert_messages(pub, chunk));
    std::cout << "\r    stored " << std::min(i + batch, messages.size()) << "/" << messages.size()
              << std::flush;
  }
  auto stored_seconds = since(t);
  std::cout << "  (" << std::fixed << std::setprecision(2) << stored_seconds << " s)\n";

  // -- owner: archives from the store ----------------------------------------------
  step("owner: building weekly archives from the store");
  archive_layout owner_layout{root / "owner", pub.community_id()};
  t = clock_type::now();
  auto oldest = take(owner_store->oldest_message_timestamp(pub, community.channel_topics));
  build_request request{oldest.value_or(start), end, default_partition_seconds,
                        community.channel_topics};
  auto report = take(build_archives(owner_layout, request, owner_store->archive_source(pub),
                                    [](std::size_t done, std::size_t total) {
                                      std::cout << "\r    window " << done << "/" << total
                                                << std::flush;
                                    }));
  auto torrent = take(write_archive_torrent(owner_layout, {{}, "annals demo", 0}));
  take(owner_store->set_last_archive_end(pub, end));
  auto build_seconds = since(t);
  std::cout << "\n    " << report.archives.size() << " archives, " << report.messages
            << " messages, " << report.bytes_appended << " bytes in " << build_seconds << " s\n";
  auto verified = take(verify_archive_dir(owner_layout.archive_dir()));
  if (!verified.ok())
    fail("owner archives fail verification: " + verified.problems.front());
  std::cout << "    verified: every ID, offset, padding and archive checks out\n";

  // -- BitTorrent over loopback ----------------------------------------------------------
  step("owner seeds; a member fetches by magnet link over 127.0.0.1");
  auto seeder = take(torrent_session::start(loopback_session_options()));
  take(seeder->seed(owner_layout.torrent_file(), owner_layout.root / "archivedata"));
  auto peer = "127.0.0.1:" + std::to_string(seeder->listen_port());
  auto magnet = magnet_link(torrent.info_hash, torrent.name, {}, {peer});
  std::cout << "    " << magnet << "\n";
  auto member = take(torrent_session::start(loopback_session_options()));
  archive_layout member_layout{root / "member", pub.community_id()};
  t = clock_type::now();
  take(member->fetch(magnet, member_layout.root / "archivedata"));
  auto last_print = clock_type::now();
  for (;;) {
    seeder->poll(std::chrono::milliseconds(0));
    for (const auto& event : member->poll(std::chrono::milliseconds(50)))
      if (event.what == torrent_event::kind::error)
        fail("member download: " + event.message);
    auto progress = take(member->progress(torrent.info_hash));
    if (progress.finished || progress.seeding)
      break;
    if (since(t) > static_cast<double>(options.seconds))
      fail("member download did not finish within " + std::to_string(options.seconds) + " s");
    if (clock_type::now() - last_print > std::chrono::milliseconds(250)) {
      last_print = clock_type::now();
      auto pct = progress.total_wanted ? 100.0 * static_cast<double>(progress.total_wanted_done)
                                           / static_cast<double>(progress.total_wanted)
                                       : 0.0;
      std::cout << "\r    " << (progress.has_metadata ? "downloading" : "waiting for metadata")
                << " " << std::setprecision(1) << pct << " %  " << progress.num_peers
                << " peer(s)" << std::flush;
    }
  }
  auto fetch_seconds = since(t);
  auto fetched = take(member->progress(torrent.info_hash));
  std::cout << "\r    downloaded " << fetched.total_download << " bytes in " << std::setprecision(2)
            << fetch_seconds << " s                 \n";
  if (!same_file(owner_layout.data_file(), member_layout.data_file())
      || !same_file(owner_layout.index_file(), member_layout.index_file()))
    fail("member copy differs from the owner's files");
  std::cout << "    member copy is byte-identical to the owner's\n";

  // -- member: import into its own store ----------------------------------------------
  step("member: verifying and importing every archive into its store");
  auto member_store = take(store::open(root / "member" / "db"));
  take(member_store->put_community(community_record(community, false)));
  auto member_verified = take(verify_archive_dir(member_layout.archive_dir()));
  if (!member_verified.ok())
    fail("member archives fail verification: " + member_verified.problems.front());
  std::vector<built_archive> held;
  for (const auto& a : member_verified.archives)
    held.push_back({a.id, a.entry, a.message_count});
  take(member_store->mark_archives_downloaded(pub, held));
  t = clock_type::now();
  std::size_t imported = 0;
  for (const auto& id : take(member_store->unimported_archives(pub))) {
    auto it = std::find_if(held.begin(), held.end(), [&](const auto& a) { return a.id == id; });
    auto archive = take(read_archive(member_layout.data_file(), it->entry));
    std::vector<archive_message> batch;
    for (const auto& m : archive.messages())
      batch.push_back(from_proto(m));
    auto stats = take(member_store->import_archive_messages(pub, id, batch, true));
    imported += stats.inserted;
  }
  auto import_seconds = since(t);
  auto owner_count = take(owner_store->count_messages(pub));
  auto member_count = take(member_store->count_messages(pub));
  std::cout << "    imported " << imported << " messages in " << import_seconds << " s\n";

  std::cout << "\n"
            << std::left << std::setw(28) << "step" << std::right << std::setw(14) << "messages"
            << std::setw(14) << "bytes" << std::setw(10) << "seconds" << "\n"
            << std::left << std::setw(28) << "store (owner)" << std::right << std::setw(14)
            << messages.size() << std::setw(14) << "-" << std::setw(10) << stored_seconds << "\n"
            << std::left << std::setw(28) << "build + torrent" << std::right << std::setw(14)
            << report.messages << std::setw(14) << report.bytes_appended << std::setw(10)
            << build_seconds << "\n"
            << std::left << std::setw(28) << "fetch over loopback" << std::right << std::setw(14)
            << "-" << std::setw(14) << fetched.total_download << std::setw(10) << fetch_seconds
            << "\n"
            << std::left << std::setw(28) << "import (member)" << std::right << std::setw(14)
            << imported << std::setw(14) << "-" << std::setw(10) << import_seconds << "\n\n";
  if (owner_count != member_count || member_count != report.messages)
    fail("member holds " + std::to_string(member_count) + " messages, owner archived "
         + std::to_string(report.messages));
  std::cout << "OK: the member holds exactly the owner's " << member_count
            << " archived messages (total " << std::setprecision(1) << since(total_start)
            << " s)\n";

  member.reset();
  seeder.reset();
  owner_store.reset();
  member_store.reset();
  if (temporary)
    fs::remove_all(root);
}

} // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<demo_options>();
  auto* cmd = app.add_subcommand(
    "demo", "Owner stores and archives a community's messages, seeds them; a member fetches "
            "them by magnet link over loopback and imports them");
  cmd->add_option("--data-dir", options->data_dir, "Keep everything here (default: a temp dir)");
  cmd->add_option("--messages", options->messages, "Messages to generate")->capture_default_str();
  cmd->add_option("--channels", options->channels, "Channels of the community")
    ->capture_default_str();
  cmd->add_option("--weeks", options->weeks, "Weeks of history")->capture_default_str();
  cmd->add_option("--seconds", options->seconds, "Time limit for the transfer")
    ->capture_default_str();
  cmd->callback([options] { run_demo(*options); });
}

} // namespace annals::app
