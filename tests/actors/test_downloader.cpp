// The member's downloader on CAF's deterministic coordinator: 20 s metadata
// timeouts and 60 s stalls run in microseconds. Real RocksDB, real archive
// files and the real importer; only the distribution backend is a stand-in
// of a few handlers that hands out an owner's files on the test's script
// (BitTorrent itself is tested against real sockets in test_member).
#include <caf/test/dsl.hpp>

#include "actors/downloader.hpp"
#include "actors/errors.hpp"
#include "actors/importer.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/hash_ratchet.hpp"
#include "storage/community_keys.hpp"
#include "core/synthetic.hpp"
#include "storage/store.hpp"
#include "tests/temp_dir.hpp"
#include "tests/unwrap.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

using namespace annals;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t day = 24 * 3600;
constexpr std::uint64_t t0 = 1'800'000'000;

/// What the stand-in backend serves and what it was asked.
struct fake_network {
  archive_layout owner;  // the owner's built archive set
  fs::path member_root;  // where fetched files go
  std::set<std::string> locatable;    // locators whose metadata peers have
  std::set<std::string> deliverable;  // archive IDs peers deliver
  std::string claimed_name;           // the set's name; empty: the community
  std::vector<std::string> calls;     // "fetch <locator>", "index[+data]", "want <n>", "save", "unseed"
  std::map<std::string, std::string> current;   // community -> locator
  std::map<std::string, bool> index_wanted;
  std::map<std::string, std::set<std::string>> wanted;
  /// Tells the fetching actor `progressed` after each change it asked for,
  /// as the BitTorrent backend does on its alerts.
  bool pushes = true;
  caf::actor_addr watcher;

  fs::path member_file(const std::string& community, const char* name) const {
    return archive_layout{member_root, community}.archive_dir() / name;
  }

  void copy_to_member(const std::string& community, const fs::path& from, const char* name) {
    fs::create_directories(member_file(community, name).parent_path());
    fs::copy_file(from, member_file(community, name), fs::copy_options::overwrite_existing);
  }

  fetch_progress progress(const std::string& community) {
    fetch_progress out;
    if (!locatable.count(current[community]))
      return out;
    out.located = true;
    out.summary = {claimed_name.empty() ? community : claimed_name,
                   fs::file_size(owner.data_file()), fs::file_size(owner.index_file())};
    if (index_wanted[community]) {
      copy_to_member(community, owner.index_file(), ".index.fetching");
      out.index_ready = true;
      out.received += out.summary.index_size;
    }
    for (const auto& id : wanted[community])
      if (deliverable.count(id))
        out.ready.push_back(id);
    if (!out.ready.empty()) {
      copy_to_member(community, owner.data_file(), "data");
      out.received += out.ready.size() * 1000;
    }
    return out;
  }
};

archive_distribution_actor::behavior_type fake_backend(archive_distribution_actor::pointer self,
                                                       std::shared_ptr<fake_network> net) {
  auto moved = [=](const std::string& community) {
    if (auto watcher = caf::actor_cast<downloader_actor>(net->watcher); watcher && net->pushes)
      self->send(watcher, progressed_atom::value, community);
  };
  return {
    [=](seed_atom, const std::string&) -> caf::result<std::string> {
      return caf::make_error(caf::sec::unexpected_message, "a member does not seed");
    },
    [=](unseed_atom, const std::string&) { net->calls.push_back("unseed"); },
    [=](fetch_atom, const std::string& community, const std::string& locator,
        const std::vector<std::string>&) {
      net->calls.push_back("fetch " + locator);
      net->current[community] = locator;
      net->index_wanted[community] = false;
      net->wanted[community].clear();
      net->watcher = caf::actor_cast<caf::actor_addr>(self->current_sender());
      moved(community);
      return std::string(40, 'f');
    },
    [=](index_atom, const std::string& community, bool with_data) {
      net->calls.push_back(with_data ? "index+data" : "index");
      net->index_wanted[community] = true;
      moved(community);
    },
    [=](want_atom, const std::string& community, const std::vector<archive_slot>& slots) {
      net->calls.push_back("want " + std::to_string(slots.size()));
      for (const auto& slot : slots)
        net->wanted[community].insert(slot.id);
      moved(community);
    },
    [=](progress_atom, const std::string& community) { return net->progress(community); },
    [=](save_atom, const std::string& community) {
      net->calls.push_back("save");
      // As the real backend: the staged index becomes the set's index.
      archive_layout layout{net->member_root, community};
      std::error_code ec;
      fs::rename(layout.fetching_index_file(), layout.index_file(), ec);
      return true;
    },
    [](status_atom) {
      component_status out;
      out.component = "fake distribution";
      return out;
    },
  };
}

signal_sink_actor::behavior_type signal_recorder(signal_sink_actor::pointer,
                                                 std::shared_ptr<std::vector<signal>> out) {
  return {[=](const signal& s) { out->push_back(s); }};
}

struct member_fixture : test_coordinator_fixture<node_system_config> {
  test::temp_dir dir{"annals-downloader"};
  synthetic_community community = synthetic_community::make(1, 7);
  public_key key = community.key.public_key();
  std::string id = key.community_id();
  std::shared_ptr<store> db;
  std::shared_ptr<fake_network> net = std::make_shared<fake_network>();
  std::shared_ptr<std::vector<signal>> signals = std::make_shared<std::vector<signal>>();
  std::vector<std::string> archive_ids;  // oldest first
  std::size_t messages = 0;
  downloader_actor member;
  signal_bus_actor bus;
  archive_distribution_actor backend;
  downloader_config config;

  member_fixture() {
    db = std::shared_ptr<store>(std::move(*store::open(dir / "member" / "db")));
    // Three weekly archives of real messages.
    net->owner = archive_layout{dir / "owner", id};
    net->member_root = dir / "member";
    synthetic_traffic traffic;
    traffic.count = 90;
    traffic.from = t0;
    traffic.to = t0 + 21 * day;
    auto stored = make_synthetic_messages(community, traffic);
    messages = stored.size();
    auto built = build_archives(net->owner,
                                build_request{t0, t0 + 21 * day, 7 * day, community.channel_topics},
                                memory_source(stored));
    REQUIRE(built);
    REQUIRE(built->archives.size() == 3);
    for (const auto& archive : built->archives)
      archive_ids.push_back(archive.id);

    bus = sys.spawn(signal_bus);
    self->send(bus, subscribe_atom::value, sys.spawn(signal_recorder, signals));
    backend = sys.spawn(fake_backend, net);
    auto importer_actor_ = sys.spawn(importer, net->member_root, db, bus, std::uint64_t{0},
                                     import_observer{});
    config.archive_root = net->member_root;
    config.fetch.disk_headroom = 0;
    member = sys.spawn(downloader, config, db, backend, importer_actor_, bus);
    sched.run();
  }

  ~member_fixture() override {
    caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Moves virtual time in the downloader's ticks, running what became due.
  void advance(std::chrono::milliseconds span) {
    for (std::chrono::milliseconds at{0}; at < span; at += config.tick) {
      advance_time(config.tick);
      sched.run();
    }
  }

  void fetch(const std::string& magnet, std::uint64_t clock = 1) {
    self->send(member, fetch_atom::value, id, magnet, clock);
    sched.run();
  }

  download_status download() {
    download_status out;
    self->send(member, progress_atom::value, id);
    sched.run();
    self->receive([&](const download_status& s) { out = s; });
    return out;
  }

  component_status status() {
    component_status out;
    self->send(member, status_atom::value);
    sched.run();
    self->receive([&](const component_status& s) { out = s; });
    return out;
  }

  bool running() {
    double tasks = 0;
    self->send(member, status_atom::value);
    sched.run();
    self->receive([&](const component_status& s) { tasks = s.value_of("annals_downloads_running"); });
    return tasks > 0;
  }

  template <class Signal>
  std::vector<Signal> signals_of() const {
    std::vector<Signal> out;
    for (const auto& s : *signals)
      if (auto* x = caf::get_if<Signal>(&s))
        out.push_back(*x);
    return out;
  }

  std::set<std::string> recorded_ids() const {
    std::set<std::string> ids;
    for (const auto& [archive, record] : test::unwrap(db->list_archives(key)))
      ids.insert(archive);
    return ids;
  }
};

} // namespace

TEST_CASE_METHOD(member_fixture, "a member wants the index first, then every missing archive, "
                                 "records them oldest first and imports every message",
                 "[actors][member][downloader]") {
  net->locatable = {"magnet:a"};
  net->deliverable = {archive_ids.begin(), archive_ids.end()};
  net->pushes = false;  // the timer alone drives it here
  fetch("magnet:a", 7);
  // Kept until the fetch completes, so a restart resumes it.
  CHECK(**db->get_setting(pending_link_setting(id)) == "7 magnet:a");
  advance(5s);  // a step a second
  CHECK((*db->get_setting(pending_link_setting(id)))->empty());

  CHECK(net->calls == std::vector<std::string>{"fetch magnet:a", "index+data", "want 3", "save"});
  CHECK_FALSE(running());
  auto downloaded = signals_of<history_archive_downloaded>();
  REQUIRE(downloaded.size() == 3);
  CHECK(std::is_sorted(downloaded.begin(), downloaded.end(),
                       [](const auto& a, const auto& b) { return a.from < b.from; }));
  CHECK(signals_of<downloading_history_archives_started>().size() == 1);
  CHECK(signals_of<downloading_history_archives_finished>().size() == 1);
  CHECK(recorded_ids() == std::set<std::string>(archive_ids.begin(), archive_ids.end()));
  for (const auto& [archive, record] : test::unwrap(db->list_archives(key)))
    CHECK(record.imported());
  CHECK(*db->count_messages(key) == messages);
  CHECK(db->get_archive_info(key)->last_magnet_uri == "magnet:a");
  CHECK((*db->get_setting(missing_key_setting(id)))->empty());
  auto counted = status();
  std::vector<std::string> label{"community", id};
  CHECK(counted.value_of("annals_downloads_finished_total", label) == 1);
  CHECK(counted.value_of("annals_downloads_failed_total", label) == 0);
  CHECK(counted.value_of("annals_archives_downloaded_total", label) == 3);
}

namespace {
/// An importer whose store refuses every write, as a full disk does.
importer_actor::behavior_type refusing_importer(importer_actor::pointer) {
  return {
    [](import_atom, const std::string&) -> caf::result<std::uint64_t> {
      return to_caf_error(errc::io, "/member/db: disk full");
    },
    [](tick_atom, const std::string&) {},
    [](status_atom) { return component_status{}; },
  };
}
} // namespace

TEST_CASE_METHOD(member_fixture, "a member steps on the backend's word that its fetch moved, "
                                 "without waiting for a timer",
                 "[actors][member][downloader]") {
  net->locatable = {"magnet:a"};
  net->deliverable = {archive_ids.begin(), archive_ids.end()};
  fetch("magnet:a");  // no virtual time passes: no tick fires
  CHECK(net->calls == std::vector<std::string>{"fetch magnet:a", "index+data", "want 3", "save"});
  CHECK_FALSE(running());
  CHECK(recorded_ids() == std::set<std::string>(archive_ids.begin(), archive_ids.end()));
  CHECK(*db->count_messages(key) == messages);

  // Without the word, the same fetch waits for the deadline timer.
  net->pushes = false;
  fetch("magnet:b");
  CHECK(net->calls.back() == "fetch magnet:b");
  CHECK(running());
}

TEST_CASE_METHOD(member_fixture, "a complete download whose import fails is a failed download, "
                                 "not finished",
                 "[actors][member][downloader]") {
  auto refusing = sys.spawn(refusing_importer);
  auto other = sys.spawn(downloader, config, db, backend, refusing, bus);
  sched.run();
  net->locatable = {"magnet:a"};
  net->deliverable = {archive_ids.begin(), archive_ids.end()};
  self->send(other, fetch_atom::value, id, std::string{"magnet:a"}, std::uint64_t{1});
  sched.run();
  advance(2s);
  CHECK(signals_of<history_archive_downloaded>().size() == 3);
  CHECK(signals_of<downloading_history_archives_finished>().empty());
  auto failed = signals_of<download_failed>();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].reason.find("importing failed") != std::string::npos);
  CHECK(failed[0].reason.find("disk full") != std::string::npos);
  self->send(other, progress_atom::value, id);
  sched.run();
  self->receive([&](const download_status& s) {
    CHECK(s.last_error.find("disk full") != std::string::npos);
  });
  caf::anon_send_exit(other, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE_METHOD(member_fixture, "no metadata: one retry after 20 s, the task ends after 40 s",
                 "[actors][member][downloader]") {
  fetch("magnet:nobody");
  advance(19s);
  CHECK(net->calls == std::vector<std::string>{"fetch magnet:nobody"});
  CHECK(download().state == "waiting for metadata (attempt 1/2)");
  advance(2s);
  CHECK(net->calls == std::vector<std::string>{"fetch magnet:nobody", "fetch magnet:nobody"});
  CHECK(running());
  CHECK(download().state == "waiting for metadata (attempt 2/2)");
  advance(21s);  // the deadline timer looks once a second
  CHECK_FALSE(running());
  // A failure is never reported as finished.
  CHECK(signals_of<downloading_history_archives_finished>().empty());
  auto failed = signals_of<download_failed>();
  REQUIRE(failed.size() == 1);
  CHECK_THAT(failed[0].reason, Catch::Contains("metadata"));
  CHECK(download().state.empty());
  CHECK(download().last_error == failed[0].reason);
  // ...and it counts as failed in the status every endpoint reads.
  auto counted = status();
  std::vector<std::string> label{"community", id};
  CHECK(counted.value_of("annals_downloads_started_total", label) == 1);
  CHECK(counted.value_of("annals_downloads_failed_total", label) == 1);
  CHECK(counted.value_of("annals_downloads_finished_total", label) == 0);
  CHECK(counted.detail_of("last_error") == id + ": " + failed[0].reason);
  CHECK_THAT(prometheus_text({counted}),
             Catch::Contains("annals_downloads_failed_total{community=\"" + id + "\"} 1\n"));
  CHECK(signals_of<downloading_history_archives_started>().empty());
  CHECK(recorded_ids().empty());
  CHECK(db->get_archive_info(key)->last_magnet_uri.empty());
}

TEST_CASE_METHOD(member_fixture, "a stalled download ends after 60 s keeping what arrived, and "
                                 "the next link fetches only the rest",
                 "[actors][member][downloader]") {
  net->locatable = {"magnet:a", "magnet:b"};
  net->deliverable = {archive_ids[0]};
  fetch("magnet:a");
  advance(2s);
  CHECK(recorded_ids() == std::set<std::string>{archive_ids[0]});
  CHECK(running());
  advance(57s);  // under 60 s since the last byte
  CHECK(running());
  CHECK(download().state == "fetching archives: 1 of 3 recorded");
  advance(3s);
  CHECK_FALSE(running());
  CHECK(db->get_archive_info(key)->last_magnet_uri.empty());  // not processed

  net->deliverable = {archive_ids.begin(), archive_ids.end()};
  fetch("magnet:b", 2);
  advance(2s);
  CHECK(net->calls.back() == "save");
  CHECK(std::count(net->calls.begin(), net->calls.end(), "want 2") == 1);
  CHECK(recorded_ids().size() == 3);
  CHECK(*db->count_messages(key) == messages);
  CHECK(db->get_archive_info(key)->last_magnet_uri == "magnet:b");
}

TEST_CASE_METHOD(member_fixture, "a newer link replaces a download still waiting; the same link "
                                 "again keeps the running one",
                 "[actors][member][downloader]") {
  net->locatable = {"magnet:b"};
  net->deliverable = {archive_ids.begin(), archive_ids.end()};
  fetch("magnet:a", 1);
  advance(5s);
  fetch("magnet:a", 2);  // a republish: no new task
  CHECK(net->calls == std::vector<std::string>{"fetch magnet:a"});
  fetch("magnet:b", 3);
  advance(2s);
  CHECK(net->calls
        == std::vector<std::string>{"fetch magnet:a", "fetch magnet:b", "index+data", "want 3", "save"});
  CHECK(recorded_ids().size() == 3);
  CHECK(db->get_archive_info(key)->last_magnet_uri == "magnet:b");
  // The replaced task's timers are stale: nothing more happens.
  advance(45s);
  CHECK(net->calls.size() == 5);
  CHECK(signals_of<downloading_history_archives_finished>().size() == 1);
}

TEST_CASE_METHOD(member_fixture, "a newer link that comes while archives arrive waits for the "
                                 "running download, then follows it; a restart would resume it",
                 "[actors][member][downloader]") {
  net->locatable = {"magnet:a", "magnet:b"};
  // Two of three archives arrive: the task is fetching archives.
  net->deliverable = {archive_ids[0], archive_ids[1]};
  fetch("magnet:a", 1);
  advance(2s);
  REQUIRE(net->calls == std::vector<std::string>{"fetch magnet:a", "index+data", "want 3"});
  fetch("magnet:b", 2);
  advance(2s);
  // Nothing restarted; the newer link is the one a restart would resume.
  CHECK(net->calls.size() == 3);
  CHECK(running());
  CHECK(**db->get_setting(pending_link_setting(id)) == "2 magnet:b");
  fetch("magnet:c", 1);  // older than the waiting one: the newest wins
  CHECK(**db->get_setting(pending_link_setting(id)) == "2 magnet:b");
  net->deliverable.insert(archive_ids[2]);
  advance(3s);
  REQUIRE(net->calls.size() >= 5);
  CHECK(net->calls[3] == "save");
  CHECK(net->calls[4] == "fetch magnet:b");
  CHECK(std::count(net->calls.begin(), net->calls.end(), "fetch magnet:c") == 0);
  CHECK_FALSE(running());
  CHECK(db->get_archive_info(key)->last_magnet_uri == "magnet:b");
  CHECK((*db->get_setting(pending_link_setting(id)))->empty());
  CHECK(recorded_ids().size() == 3);
}

TEST_CASE_METHOD(member_fixture, "a waiting newer link takes over from an older set that stopped "
                                 "arriving (no seeder holds its rest)",
                 "[actors][member][downloader]") {
  net->locatable = {"magnet:a", "magnet:b"};
  net->deliverable = {archive_ids[0]};
  fetch("magnet:a", 1);
  advance(2s);
  fetch("magnet:b", 2);
  advance(5s);
  CHECK(std::count(net->calls.begin(), net->calls.end(), "fetch magnet:b") == 0);
  // Nothing more arrives for the older set: 10 s after its last byte the
  // newer one runs, and it delivers every archive.
  advance(7s);
  CHECK(std::count(net->calls.begin(), net->calls.end(), "fetch magnet:b") == 1);
  net->deliverable = {archive_ids.begin(), archive_ids.end()};
  advance(3s);
  CHECK(std::count(net->calls.begin(), net->calls.end(), "save") == 1);
  CHECK(db->get_archive_info(key)->last_magnet_uri == "magnet:b");
  CHECK(recorded_ids().size() == 3);
  CHECK_FALSE(running());
}

TEST_CASE_METHOD(member_fixture, "a set named after another community is dropped before anything "
                                 "is wanted",
                 "[actors][member][downloader]") {
  net->locatable = {"magnet:a"};
  net->claimed_name = private_key::generate().public_key().community_id();
  fetch("magnet:a");
  advance(1s);
  CHECK(net->calls == std::vector<std::string>{"fetch magnet:a", "unseed"});
  CHECK_FALSE(running());
  CHECK(recorded_ids().empty());
  CHECK_FALSE(fs::exists(net->member_file(id, "index")));
}

TEST_CASE_METHOD(member_fixture, "a missing hash-ratchet key parks the fetch until the keys file "
                                 "changes, then the archives are fetched and imported",
                 "[actors][member][downloader][hrkey]") {
  // The owner's set, sealed under a key the member does not hold yet.
  auto group = std::string(as_view(key.compressed()));
  hr_keyring owner_keys;
  auto owner_key = make_hr_key(group, 1'700'000'000'000, owner_keys);
  owner_keys.add(owner_key);
  auto cipher = make_archive_cipher(owner_keys, group, dir / "seq");
  net->owner = archive_layout{dir / "gated-owner", id};
  synthetic_traffic traffic;
  traffic.count = 60;
  traffic.from = t0;
  traffic.to = t0 + 14 * day;
  build_request request{t0, t0 + 14 * day, 7 * day, community.channel_topics};
  request.cipher = cipher;
  REQUIRE(build_archives(net->owner, request, memory_source(make_synthetic_messages(community, traffic))));

  auto member_keys = dir / "member-keys.jsonl";
  hr_keyring none;
  REQUIRE(append_hr_keys(member_keys, {make_hr_key("other group", 1, none)}));
  auto record = community_record(key, community.channel_ids, record::Community::MEMBER);
  record.set_keys_file(member_keys.string());
  REQUIRE(db->put_community(record));

  net->locatable = {"magnet:a"};
  fetch("magnet:a");
  advance(2s);
  auto missing = signals_of<archive_key_missing>();
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].key_id == to_hex(owner_key.key_id()));
  CHECK(**db->get_setting(missing_key_setting(id)) == to_hex(owner_key.key_id()));  // status
  CHECK_FALSE(running());
  CHECK(recorded_ids().empty());
  CHECK(signals_of<downloading_history_archives_started>().empty());

  // A republished link changes nothing while the keys file is unchanged.
  fetch("magnet:a", 2);
  advance(10s);
  CHECK(std::count(net->calls.begin(), net->calls.end(), "fetch magnet:a") == 1);
  CHECK(signals_of<archive_key_missing>().size() == 1);

  // The key arrives: within a poll the fetch starts again and completes.
  REQUIRE(append_hr_keys(member_keys, {owner_key}));
  fs::last_write_time(member_keys, fs::last_write_time(member_keys) + 2s);
  net->deliverable.clear();
  advance(6s);
  CHECK(std::count(net->calls.begin(), net->calls.end(), "fetch magnet:a") == 2);
  auto index = read_index(archive_layout{net->member_root, id}.fetching_index_file(), &owner_keys);
  REQUIRE(index);
  for (const auto& [archive, entry] : index->archives())
    net->deliverable.insert(archive);
  advance(2s);
  CHECK_FALSE(running());
  CHECK(recorded_ids().size() == 2);
  CHECK(*db->count_messages(key) == 60);
  CHECK(db->get_archive_info(key)->last_magnet_uri == "magnet:a");
}
