#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/hex.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/magnet_uri.hpp>
#include <libtorrent/torrent_info.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <chrono>
#include <functional>
#include <iterator>
#include <random>
#include <set>

using namespace annals;
using annals::test::read_file;
using annals::test::temp_dir;
using annals::test::write_file;
namespace fs = std::filesystem;

namespace {

constexpr auto L = archive_piece_length;

const std::string community = "0x02" + std::string(64, 'c');

const std::string opentrackr = "udp%3A%2F%2Ftracker.opentrackr.org%3A1337%2Fannounce";
const std::string openbittorrent = "udp%3A%2F%2Ftracker.openbittorrent.com%3A6969%2Fannounce";

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng());
  return out;
}

/// An archive directory with random `data` of `data_pieces` pieces and an
/// `index` of `index_size` bytes; the content is opaque to the torrent code.
archive_layout make_archive(const fs::path& root, std::size_t data_pieces,
                            std::size_t index_size) {
  archive_layout layout{root, community};
  write_file(layout.data_file(), random_bytes(data_pieces * L, 1));
  write_file(layout.index_file(), random_bytes(index_size, 2));
  return layout;
}

/// Compares without letting Catch print megabytes of binary on a mismatch.
bool same_bytes(const std::string& a, const std::string& b) {
  return a == b;
}

std::string sha1(std::string_view bytes) {
  auto digest = lt::hasher(bytes.data(), static_cast<int>(bytes.size())).final();
  return {digest.data(), digest.size()};
}

std::string hex(const lt::sha1_hash& hash) {
  return to_hex(std::string_view(hash.data(), hash.size()));
}

std::set<std::string> keys(const lt::bdecode_node& dict) {
  std::set<std::string> out;
  for (int i = 0; i < dict.dict_size(); ++i)
    out.insert(std::string(dict.dict_at(i).first));
  return out;
}

lt::bdecode_node decode(const std::string& bytes) {
  lt::error_code ec;
  auto node = lt::bdecode(lt::span<const char>(bytes.data(), static_cast<long>(bytes.size())), ec);
  REQUIRE_FALSE(ec);
  return node;
}

/// Polls every session, since an undrained alert queue would stall libtorrent,
/// and keeps each session's events for later checks.
class event_loop {
public:
  explicit event_loop(std::vector<torrent_session*> sessions)
    : sessions_(std::move(sessions)), events_(sessions_.size()) {}

  /// False when `limit` passes before `done` holds.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::seconds limit = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      for (std::size_t i = 0; i < sessions_.size(); ++i)
        for (auto& event : sessions_[i]->poll(std::chrono::milliseconds(10)))
          events_[i].push_back(std::move(event));
    }
    return true;
  }

  bool saw(std::size_t session, torrent_event::kind what, int file_index = -1) const {
    return std::any_of(events_[session].begin(), events_[session].end(), [&](const auto& e) {
      return e.what == what && (file_index < 0 || e.file_index == file_index);
    });
  }

  /// How many events of kind `what` a session has had so far.
  std::size_t count(std::size_t session, torrent_event::kind what) const {
    return static_cast<std::size_t>(std::count_if(
      events_[session].begin(), events_[session].end(),
      [&](const auto& e) { return e.what == what; }));
  }

  /// flush() on session `session` and wait for the `flushed` event that
  /// answers it: one already seen before the call would prove nothing.
  bool flush(std::size_t session, const std::string& info_hash) {
    auto before = count(session, torrent_event::kind::flushed);
    if (!sessions_[session]->flush(info_hash))
      return false;
    return run_until([&] { return count(session, torrent_event::kind::flushed) > before; });
  }

  /// The error events of a session, for failure messages.
  std::string errors(std::size_t session) const {
    std::string out;
    for (const auto& e : events_[session])
      if (e.what == torrent_event::kind::error)
        out += e.message + "\n";
    return out;
  }

private:
  std::vector<torrent_session*> sessions_;
  std::vector<std::vector<torrent_event>> events_;
};

std::unique_ptr<torrent_session> start_loopback() {
  auto session = torrent_session::start(loopback_session_options());
  REQUIRE(session);
  REQUIRE(session.value()->listen_port() != 0);
  return std::move(session.value());
}

std::string peer_of(const torrent_session& session) {
  return "127.0.0.1:" + std::to_string(session.listen_port());
}

/// An owner's archive set (make_archive) with its torrent, seeded by
/// session `a` on loopback until it is seeding, session `b` beside it, both
/// polled by `loop`: the start of every two-session test.
struct seeded_pair {
  seeded_pair(const fs::path& owner_root, std::size_t data_pieces, std::size_t index_size)
    : owner(make_archive(owner_root, data_pieces, index_size)) {
    auto written = write_archive_torrent(owner, {});
    REQUIRE(written);
    summary = *written;
    auto hash = a->seed(owner.torrent_file(), owner.archive_dir().parent_path());
    REQUIRE(hash);
    seeded = *hash;
    REQUIRE(loop.run_until([&] { return a->progress(seeded)->seeding; }));
  }

  archive_layout owner;
  torrent_summary summary;
  std::unique_ptr<torrent_session> a = start_loopback();
  std::unique_ptr<torrent_session> b = start_loopback();
  event_loop loop{{a.get(), b.get()}};
  std::string seeded;  // the info hash a seeds
};

/// A valid archive torrent as an lt::entry, for tests to break one rule at a
/// time.
lt::entry archive_torrent_entry(std::uint64_t data_size, std::uint64_t index_size) {
  lt::entry info(lt::entry::dictionary_t);
  auto& files = info["files"] = lt::entry::list_type{};
  for (auto [name, size] : {std::pair{"data", data_size}, std::pair{"index", index_size}}) {
    lt::entry file(lt::entry::dictionary_t);
    file["length"] = static_cast<std::int64_t>(size);
    file["path"] = lt::entry::list_type{lt::entry(name)};
    files.list().push_back(std::move(file));
  }
  info["name"] = community;
  info["piece length"] = static_cast<std::int64_t>(L);
  auto pieces = (data_size + index_size + L - 1) / L;
  info["pieces"] = std::string(pieces * 20, 'x');
  lt::entry torrent(lt::entry::dictionary_t);
  torrent["info"] = std::move(info);
  return torrent;
}

fs::path write_entry(const temp_dir& dir, const lt::entry& torrent) {
  std::string bytes;
  lt::bencode(std::back_inserter(bytes), torrent);
  auto file = dir / "hostile.torrent";
  write_file(file, bytes);
  return file;
}

} // namespace

TEST_CASE("query_escape matches Go's url.QueryEscape", "[net][magnet]") {
  CHECK(query_escape("udp://tracker.opentrackr.org:1337/announce") == opentrackr);
  CHECK(query_escape("AZaz09-_.~") == "AZaz09-_.~");
  CHECK(query_escape("a b+c&d=e") == "a+b%2Bc%26d%3De");
  CHECK(query_escape("\xc3\xbc/\x7f") == "%C3%BC%2F%7F");
  CHECK(query_escape("") == "");
}

TEST_CASE("magnet_link prints anacrolix's Magnet.String()", "[net][magnet]") {
  const std::string hash = "0123456789abcdef0123456789abcdef01234567";

  SECTION("status-go's trackers") {
    CHECK(magnet_link(hash, community, status_go_trackers()) ==
          "magnet:?xt=urn:btih:" + hash + "&dn=" + community + "&tr=" + opentrackr +
            "&tr=" + openbittorrent);
  }
  SECTION("peers sort after trackers as x.pe") {
    auto link = magnet_link(hash, community, {"udp://t.example:1/announce"},
                            {"127.0.0.1:9025", "[::1]:7"});
    CHECK(link == "magnet:?xt=urn:btih:" + hash + "&dn=" + community +
                    "&tr=udp%3A%2F%2Ft.example%3A1%2Fannounce" +
                    "&x.pe=127.0.0.1%3A9025&x.pe=%5B%3A%3A1%5D%3A7");
    // libtorrent misses the escaped x.pe values; fetch() reads those itself.
    auto atp = lt::parse_magnet_uri(link);
    CHECK(hex(atp.info_hashes.v1) == hash);
    CHECK(atp.name == community);
    CHECK(atp.trackers == std::vector<std::string>{"udp://t.example:1/announce"});
  }
  SECTION("nothing but the hash") {
    CHECK(magnet_link(hash, "", {}) == "magnet:?xt=urn:btih:" + hash);
  }
}

TEST_CASE("write_archive_torrent writes status-go's torrent", "[net][torrent_file]") {
  temp_dir dir("annals-torrent");
  auto layout = make_archive(dir.path(), 3, 1234);
  torrent_options options{status_go_trackers(), "0x04abcd", 1700000000};
  auto summary = write_archive_torrent(layout, options);
  REQUIRE(summary);
  auto bytes = read_file(layout.torrent_file());
  CHECK((fs::status(layout.torrent_file().parent_path()).permissions() & fs::perms::all) ==
        fs::perms::owner_all);

  lt::torrent_info ti(bytes.data(), static_cast<int>(bytes.size()));
  CHECK(ti.name() == community);
  CHECK_FALSE(ti.info_hashes().has_v2());
  CHECK(hex(ti.info_hashes().v1) == summary->info_hash);
  CHECK(ti.piece_length() == static_cast<int>(L));
  CHECK(ti.num_pieces() == 4);
  const auto& files = ti.files();
  REQUIRE(files.num_files() == 2);
  CHECK(files.file_path(lt::file_index_t(0)) == community + "/data");
  CHECK(files.file_path(lt::file_index_t(1)) == community + "/index");
  CHECK(files.file_size(lt::file_index_t(0)) == static_cast<std::int64_t>(3 * L));
  CHECK(files.file_size(lt::file_index_t(1)) == 1234);

  auto root = decode(bytes);
  CHECK(keys(root) == std::set<std::string>{"announce-list", "created by", "creation date", "info"});
  CHECK(root.dict_find_string_value("created by") == "0x04abcd");
  CHECK(root.dict_find_int_value("creation date") == 1700000000);
  auto tiers = root.dict_find_list("announce-list");
  REQUIRE(tiers.list_size() == 2);
  CHECK(tiers.list_at(0).list_size() == 1);
  CHECK(tiers.list_at(0).list_string_value_at(0) == status_go_trackers()[0]);
  CHECK(tiers.list_at(1).list_string_value_at(0) == status_go_trackers()[1]);

  auto info = root.dict_find_dict("info");
  CHECK(keys(info) == std::set<std::string>{"files", "name", "piece length", "pieces"});
  auto pieces = info.dict_find_string_value("pieces");
  REQUIRE(pieces.size() == 4 * 20);
  auto all = read_file(layout.data_file()) + read_file(layout.index_file());
  CHECK(pieces.substr(0, 20) == sha1(std::string_view(all).substr(0, L)));
  CHECK(pieces.substr(3 * 20) == sha1(std::string_view(all).substr(3 * L)));

  CHECK(summary->name == community);
  CHECK(summary->data_size == 3 * L);
  CHECK(summary->index_size == 1234);
  CHECK(summary->piece_count == 4);
  CHECK(summary->trackers == status_go_trackers());
  CHECK(summary->magnet == magnet_link(summary->info_hash, community, status_go_trackers()));

  auto read_back = read_archive_torrent(layout.torrent_file());
  REQUIRE(read_back);
  CHECK(read_back->info_hash == summary->info_hash);
  CHECK(read_back->name == summary->name);
  CHECK(read_back->data_size == summary->data_size);
  CHECK(read_back->index_size == summary->index_size);
  CHECK(read_back->piece_count == summary->piece_count);
  CHECK(read_back->trackers == summary->trackers);
  CHECK(read_back->magnet == summary->magnet);
}

TEST_CASE("write_archive_torrent is reproducible and omits empty options",
          "[net][torrent_file]") {
  temp_dir dir("annals-torrent");
  auto layout = make_archive(dir.path(), 2, 10);
  auto first = write_archive_torrent(layout, {});
  REQUIRE(first);
  auto first_bytes = read_file(layout.torrent_file());
  auto second = write_archive_torrent(layout, {});
  REQUIRE(second);
  CHECK(read_file(layout.torrent_file()) == first_bytes);
  CHECK(second->info_hash == first->info_hash);
  CHECK(keys(decode(first_bytes)) == std::set<std::string>{"info"});
  CHECK(first->magnet == "magnet:?xt=urn:btih:" + first->info_hash + "&dn=" + community);

  // The info hash covers only the info dict, so options never change it.
  auto with_options = write_archive_torrent(layout, {status_go_trackers(), "0x04ff", 1});
  REQUIRE(with_options);
  CHECK(with_options->info_hash == first->info_hash);
}

TEST_CASE("write_archive_torrent hashes what build_archives wrote", "[net][torrent_file]") {
  temp_dir dir("annals-torrent");
  archive_layout layout{dir.path(), community};
  topic4 topic{1, 2, 3, 4};
  std::vector<archive_message> messages;
  for (std::uint64_t i = 0; i < 3; ++i) {
    archive_message m;
    m.timestamp = 1000 + i * default_partition_seconds;
    m.topic = topic;
    m.payload = random_bytes(50'000, static_cast<unsigned>(i));
    m.sig = std::string(65, '\x04');
    m.hash = std::string(32, static_cast<char>('a' + i));
    messages.push_back(std::move(m));
  }
  build_request request;
  request.from = 1000;
  request.to = 1000 + 3 * default_partition_seconds;
  request.topics = {topic};
  auto report = build_archives(layout, request, memory_source(std::move(messages)));
  REQUIRE(report);
  REQUIRE(report->archives.size() == 3);

  auto summary = write_archive_torrent(layout, {});
  REQUIRE(summary);
  CHECK(summary->data_size == fs::file_size(layout.data_file()));
  CHECK(summary->data_size == report->bytes_appended);
  CHECK(summary->index_size == fs::file_size(layout.index_file()));
  auto read_back = read_archive_torrent(layout.torrent_file());
  REQUIRE(read_back);
  CHECK(read_back->info_hash == summary->info_hash);
}

/// Builds `weeks` weekly archives from `first_week` into layout, with
/// `per_week` random messages of `payload` bytes each.
build_report build_weeks(const archive_layout& layout, std::uint64_t first_week,
                         std::uint64_t weeks, std::uint64_t per_week, std::size_t payload) {
  topic4 topic{1, 2, 3, 4};
  std::vector<archive_message> messages;
  for (std::uint64_t i = 0; i < weeks * per_week; ++i) {
    archive_message m;
    m.timestamp = 1000 + first_week * default_partition_seconds + i * 2 * 24 * 3600;
    m.topic = topic;
    m.payload = random_bytes(payload, static_cast<unsigned>(first_week * 100 + i));
    m.sig = std::string(65, '\x04');
    m.hash = std::string(31, static_cast<char>(first_week)) + static_cast<char>(i);
    messages.push_back(std::move(m));
  }
  build_request request{1000 + first_week * default_partition_seconds,
                        1000 + (first_week + weeks) * default_partition_seconds,
                        default_partition_seconds, {topic}};
  auto report = build_archives(layout, request, memory_source(std::move(messages)));
  REQUIRE(report);
  return *report;
}

TEST_CASE("write_archive_torrent from a build's piece hashes writes the same torrent",
          "[net][torrent_file]") {
  temp_dir dir("annals-torrent");
  archive_layout layout{dir.path(), community};
  auto build = [&](std::uint64_t first_week, std::uint64_t weeks) {
    return build_weeks(layout, first_week, weeks, 4, 70'000);
  };
  auto torrent_bytes = [&] { return read_file(layout.torrent_file()); };
  auto rehashed = [&] {
    REQUIRE(write_archive_torrent(layout, {}));
    return torrent_bytes();
  };

  // A first build: every data piece comes from the build.
  auto first = build(0, 2);
  REQUIRE(write_archive_torrent(layout, {}, &first.appended_pieces));
  auto from_build = torrent_bytes();
  CHECK(from_build == rehashed());
  REQUIRE(verify_archive_torrent_files(layout));

  // The next build: its pieces from the build, the earlier ones from the
  // torrent in place.
  auto second = build(2, 3);
  REQUIRE(second.appended_pieces.first > 0);
  REQUIRE(write_archive_torrent(layout, {}, &second.appended_pieces));
  from_build = torrent_bytes();
  CHECK(from_build == rehashed());

  // A torrent in place that does not describe the prefix (its build's
  // torrent was never written): the prefix is read back from disk.
  auto third = build(5, 1);
  auto fourth = build(6, 2);
  REQUIRE(write_archive_torrent(layout, {}, &fourth.appended_pieces));
  from_build = torrent_bytes();
  CHECK(from_build == rehashed());
  REQUIRE(verify_archive_torrent_files(layout));
  (void) third;

  // Digests that do not end at data's end are not trusted.
  auto short_list = fourth.appended_pieces;
  short_list.digests.resize(short_list.digests.size() - 20);
  REQUIRE(write_archive_torrent(layout, {}, &short_list));
  CHECK(torrent_bytes() == from_build);
}

TEST_CASE("verify_archive_torrent_files names the first piece that differs",
          "[net][torrent_file]") {
  temp_dir dir("annals-torrent");
  archive_layout layout{dir.path(), community};
  write_file(layout.data_file(), random_bytes(3 * L, 7));
  write_file(layout.index_file(), random_bytes(5000, 8));
  auto written = write_archive_torrent(layout, {});
  REQUIRE(written);
  auto verified = verify_archive_torrent_files(layout);
  REQUIRE(verified);
  CHECK(verified->info_hash == written->info_hash);

  auto data = read_file(layout.data_file());
  data[L + 10] ^= 1;
  write_file(layout.data_file(), data);
  auto flipped = verify_archive_torrent_files(layout);
  REQUIRE_FALSE(flipped);
  CHECK(flipped.error().message == "piece 1 (data offset 102400) does not match the torrent's hash");

  data[L + 10] ^= 1;
  write_file(layout.data_file(), data);
  write_file(layout.index_file(), random_bytes(5000, 9));
  auto index = verify_archive_torrent_files(layout);
  REQUIRE_FALSE(index);
  CHECK(index.error().message == "piece 3 (index offset 0) does not match the torrent's hash");

  // A torrent copied beside another community's files names the wrong one.
  auto other = "0x03" + std::string(64, 'f');
  archive_layout elsewhere{dir.path(), other};
  std::filesystem::create_directories(elsewhere.archive_dir());
  std::filesystem::copy_file(layout.data_file(), elsewhere.data_file());
  std::filesystem::copy_file(layout.index_file(), elsewhere.index_file());
  std::filesystem::copy_file(layout.torrent_file(), elsewhere.torrent_file());
  auto renamed = verify_archive_torrent_files(elsewhere);
  REQUIRE_FALSE(renamed);
  CHECK(renamed.error().code == errc::verification_failed);
  CHECK_THAT(renamed.error().message, Catch::Contains("not the directory's community " + other));

  write_file(layout.index_file(), random_bytes(4000, 8));
  auto shorter = verify_archive_torrent_files(layout);
  REQUIRE_FALSE(shorter);
  CHECK(shorter.error().message.find("is 4000 bytes, the torrent says 5000") != std::string::npos);
}

TEST_CASE("magnet_info_hash reads hex and base32 hashes", "[net][magnet]") {
  auto hex_hash = std::string(40, 'a');
  CHECK(magnet_info_hash(magnet_link(hex_hash, community, status_go_trackers())) == hex_hash);
  CHECK(magnet_info_hash("magnet:?xt=urn:btih:" + std::string(40, 'A')) == hex_hash);
  // base32 of twenty 0xff bytes is 32 '7's.
  CHECK(magnet_info_hash("magnet:?xt=urn:btih:" + std::string(32, '7') + "&dn=x")
        == std::string(40, 'f'));
  CHECK_FALSE(magnet_info_hash("magnet:?dn=x"));
  CHECK_FALSE(magnet_info_hash("magnet:?xt=urn:btih:xyz"));
}

TEST_CASE("write_archive_torrent refuses what status-go could not seed",
          "[net][torrent_file]") {
  temp_dir dir("annals-torrent");

  SECTION("missing index") {
    archive_layout layout{dir.path(), community};
    write_file(layout.data_file(), std::string(L, 'd'));
    auto summary = write_archive_torrent(layout, {});
    REQUIRE_FALSE(summary);
    CHECK(summary.error().code == errc::not_found);
    CHECK_THAT(summary.error().message, Catch::Contains("index"));
  }
  SECTION("data not piece-aligned") {
    archive_layout layout{dir.path(), community};
    write_file(layout.data_file(), std::string(L + 1, 'd'));
    write_file(layout.index_file(), "i");
    auto summary = write_archive_torrent(layout, {});
    REQUIRE_FALSE(summary);
    CHECK(summary.error().code == errc::verification_failed);
    CHECK_THAT(summary.error().message, Catch::Contains("102401"));
  }
  SECTION("name that is not a community ID") {
    archive_layout layout{dir.path(), "0x02ab"};
    write_file(layout.data_file(), std::string(L, 'd'));
    write_file(layout.index_file(), "i");
    auto summary = write_archive_torrent(layout, {});
    REQUIRE_FALSE(summary);
    CHECK(summary.error().code == errc::invalid_argument);
  }
  CHECK_FALSE(fs::exists(dir / "torrents"));
}

TEST_CASE("read_archive_torrent rejects torrents not in status-go's shape",
          "[net][torrent_file]") {
  temp_dir dir("annals-torrent");
  auto torrent = archive_torrent_entry(2 * L, 500);

  auto rejects = [&](errc code, const std::string& cause) {
    auto summary = read_archive_torrent(write_entry(dir, torrent));
    REQUIRE_FALSE(summary);
    CHECK(summary.error().code == code);
    CHECK_THAT(summary.error().message, Catch::Contains(cause));
  };

  SECTION("the unmodified shape is accepted") {
    auto summary = read_archive_torrent(write_entry(dir, torrent));
    REQUIRE(summary);
    CHECK(summary->piece_count == 3);
  }
  SECTION("wrong name") {
    torrent["info"]["name"] = "archivedata";
    rejects(errc::verification_failed, "\"archivedata\" is not a community ID");
  }
  SECTION("uppercase community ID") {
    torrent["info"]["name"] = "0x02" + std::string(64, 'C');
    rejects(errc::verification_failed, "not a community ID");
  }
  SECTION("extra file") {
    lt::entry extra(lt::entry::dictionary_t);
    extra["length"] = 1;
    extra["path"] = lt::entry::list_type{lt::entry("extra")};
    torrent["info"]["files"].list().push_back(extra);
    rejects(errc::verification_failed, "3 files");
  }
  SECTION("files in the wrong order") {
    auto& files = torrent["info"]["files"].list();
    std::swap(files[0], files[1]);
    rejects(errc::verification_failed, "file 0 is \"index\", expected \"data\"");
  }
  SECTION("file in a directory") {
    torrent["info"]["files"].list()[1]["path"] =
      lt::entry::list_type{lt::entry("sub"), lt::entry("index")};
    rejects(errc::verification_failed, "file 1 is \"sub/index\"");
  }
  SECTION("single-file torrent") {
    auto& info = torrent["info"];
    info.dict().erase("files");
    info["length"] = static_cast<std::int64_t>(2 * L);
    rejects(errc::verification_failed, "single-file");
  }
  SECTION("piece length 16384") {
    torrent["info"]["piece length"] = 16384;
    rejects(errc::verification_failed, "piece length 16384");
  }
  SECTION("data not piece-aligned") {
    torrent = archive_torrent_entry(2 * L - 1, 500);
    rejects(errc::verification_failed, "not a multiple of the piece length");
  }
  SECTION("v2 keys") {
    torrent["info"]["meta version"] = 2;
    rejects(errc::verification_failed, "v2");
  }
  SECTION("wrong number of piece hashes") {
    torrent["info"]["pieces"] = std::string(20, 'x');
    rejects(errc::malformed, "not a valid torrent");
  }
  SECTION("garbage bytes") {
    write_file(dir / "garbage.torrent", "this is no torrent");
    auto summary = read_archive_torrent(dir / "garbage.torrent");
    REQUIRE_FALSE(summary);
    CHECK(summary.error().code == errc::malformed);
    CHECK_THAT(summary.error().message, Catch::Contains("garbage.torrent"));
  }
  SECTION("bytes after the dictionary") {
    auto file = write_entry(dir, torrent);
    write_file(file, read_file(file) + "TRAILER");
    auto summary = read_archive_torrent(file);
    REQUIRE_FALSE(summary);
    CHECK(summary.error().code == errc::malformed);
    CHECK_THAT(summary.error().message, Catch::Contains("7 trailing bytes after the dictionary"));
  }
  SECTION("missing file") {
    auto summary = read_archive_torrent(dir / "absent.torrent");
    REQUIRE_FALSE(summary);
    CHECK(summary.error().code == errc::not_found);
    CHECK_THAT(summary.error().message, Catch::Contains("absent.torrent"));
  }
}

TEST_CASE("a second session cannot take a port in use", "[net][session]") {
  auto a = start_loopback();
  auto options = loopback_session_options();
  options.listen = peer_of(*a);
  auto b = torrent_session::start(options);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == errc::io);
  CHECK(b.error().message == peer_of(*a) + ": address already in use");
}

TEST_CASE("seed refuses an archive whose files are missing", "[net][session]") {
  temp_dir dir("annals-seed");
  auto layout = make_archive(dir / "owner", 1, 10);
  REQUIRE(write_archive_torrent(layout, {}));
  fs::remove(layout.index_file());
  auto session = start_loopback();
  auto seeded = session->seed(layout.torrent_file(), layout.archive_dir().parent_path());
  REQUIRE_FALSE(seeded);
  CHECK(seeded.error().code == errc::not_found);
  CHECK_THAT(seeded.error().message, Catch::Contains("index"));
}

TEST_CASE("fetch refuses unusable magnet links and peers", "[net][session]") {
  temp_dir dir("annals-fetch");
  auto session = start_loopback();
  const std::string link = magnet_link(std::string(40, 'a'), community, {});

  auto garbage = session->fetch("https://example.com", dir.path());
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().code == errc::malformed);
  auto v2_only = session->fetch("magnet:?xt=urn:btmh:1220" + std::string(64, 'b'), dir.path());
  REQUIRE_FALSE(v2_only);
  CHECK(v2_only.error().code == errc::unsupported);
  auto bad_x_pe = session->fetch(link + "&x.pe=localhost", dir.path());
  REQUIRE_FALSE(bad_x_pe);
  CHECK(bad_x_pe.error().code == errc::malformed);
  CHECK_THAT(bad_x_pe.error().message, Catch::Contains("x.pe=localhost"));
  auto bad_peer = session->fetch(link, dir.path(), {"127.0.0.1"});
  REQUIRE_FALSE(bad_peer);
  CHECK(bad_peer.error().code == errc::invalid_argument);

  auto hash = session->fetch(link, dir.path());
  REQUIRE(hash);
  auto again = session->fetch(link, dir.path());
  REQUIRE_FALSE(again);
  CHECK(again.error().code == errc::conflict);
  CHECK(session->progress(std::string(40, 'b')).error().code == errc::not_found);
  CHECK(session->progress("xyz").error().code == errc::invalid_argument);
}

TEST_CASE("two loopback sessions transfer an archive by magnet link", "[net][session]") {
  temp_dir dir("annals-transfer");
  seeded_pair t(dir / "owner", 40, 150'000);
  CHECK(t.seeded == t.summary.info_hash);

  archive_layout member{dir / "member", community};
  auto started = std::chrono::steady_clock::now();
  auto fetched = t.b->fetch(t.summary.magnet, member.archive_dir().parent_path(), {peer_of(*t.a)});
  REQUIRE(fetched);
  CHECK(*fetched == t.summary.info_hash);

  bool done = t.loop.run_until([&] { return t.loop.saw(1, torrent_event::kind::finished); });
  INFO(t.loop.errors(1));
  REQUIRE(done);
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  INFO("transfer took " << elapsed.count() << " s");

  CHECK(t.loop.saw(1, torrent_event::kind::added));
  CHECK(t.loop.saw(1, torrent_event::kind::metadata_received));
  CHECK(t.loop.saw(1, torrent_event::kind::file_completed, 0));
  CHECK(t.loop.saw(1, torrent_event::kind::file_completed, 1));
  CHECK(t.loop.saw(1, torrent_event::kind::piece_finished));
  CHECK(same_bytes(read_file(member.data_file()), read_file(t.owner.data_file())));
  CHECK(same_bytes(read_file(member.index_file()), read_file(t.owner.index_file())));

  auto progress = t.b->progress(*fetched);
  REQUIRE(progress);
  CHECK(progress->name == community);
  CHECK(progress->has_metadata);
  CHECK(progress->finished);
  CHECK(progress->total_wanted == t.summary.data_size + t.summary.index_size);
  CHECK(progress->total_wanted_done == progress->total_wanted);
  CHECK(progress->total_download >= progress->total_wanted);

  REQUIRE(t.b->remove(*fetched));
  REQUIRE(t.loop.run_until([&] { return t.loop.saw(1, torrent_event::kind::removed); }));
  CHECK(t.b->progress(*fetched).error().code == errc::not_found);
}

TEST_CASE("a member fetches the index first, then chosen pieces", "[net][session]") {
  temp_dir dir("annals-partial");
  constexpr int data_pieces = 20;
  seeded_pair t(dir / "owner", data_pieces, 150'000);  // index spans 2 pieces

  // The peer travels in the magnet link this time, as x.pe.
  archive_layout member{dir / "member", community};
  auto magnet = magnet_link(t.summary.info_hash, community, {}, {peer_of(*t.a)});
  auto hash = t.b->fetch(magnet, member.archive_dir().parent_path(), {}, false);
  REQUIRE(hash);
  CHECK(t.b->want_file(*hash, 1).error().code == errc::invalid_argument);  // no metadata yet

  REQUIRE(t.loop.run_until([&] { return t.loop.saw(1, torrent_event::kind::metadata_received); }));
  CHECK(t.b->want_file(*hash, 2).error().code == errc::invalid_argument);
  REQUIRE(t.b->want_file(*hash, 1));
  bool index_done = t.loop.run_until([&] { return t.loop.saw(1, torrent_event::kind::file_completed, 1); });
  INFO(t.loop.errors(1));
  REQUIRE(index_done);
  // A completed file may still have blocks in libtorrent's write cache: the
  // bytes are in the file once the flush that follows is reported.
  REQUIRE(t.loop.flush(1, *hash));
  CHECK(same_bytes(read_file(member.index_file()), read_file(t.owner.index_file())));
  for (int piece = 0; piece < data_pieces; ++piece)
    CHECK_FALSE(*t.b->have_piece(*hash, piece));
  CHECK_FALSE(t.loop.saw(1, torrent_event::kind::file_completed, 0));

  REQUIRE(t.b->want_pieces(*hash, 5, 8));
  REQUIRE(t.loop.run_until([&] {
    return *t.b->have_piece(*hash, 5) && *t.b->have_piece(*hash, 6) && *t.b->have_piece(*hash, 7);
  }));
  CHECK_FALSE(*t.b->have_piece(*hash, 4));
  CHECK_FALSE(*t.b->have_piece(*hash, 8));
  REQUIRE(t.loop.flush(1, *hash));
  auto owner_data = read_file(t.owner.data_file());
  auto member_data = read_file(member.data_file());
  REQUIRE(member_data.size() >= 8 * L);
  CHECK(same_bytes(member_data.substr(5 * L, 3 * L), owner_data.substr(5 * L, 3 * L)));
  CHECK(t.b->want_pieces(*hash, 19, 23).error().code == errc::invalid_argument);
}

TEST_CASE("check_archive_info_dict applies the .torrent rules to bare metadata",
          "[net][torrent_file]") {
  temp_dir dir("annals-info");
  auto layout = make_archive(dir.path(), 3, 1234);
  auto written = write_archive_torrent(layout, {status_go_trackers(), "annals", 1700000000});
  REQUIRE(written);
  auto bytes = read_file(layout.torrent_file());
  auto section = decode(bytes).dict_find_dict("info").data_section();

  auto summary = check_archive_info_dict(std::string_view(section.data(), section.size()));
  REQUIRE(summary);
  CHECK(summary->info_hash == written->info_hash);
  CHECK(summary->name == community);
  CHECK(summary->data_size == 3 * L);
  CHECK(summary->index_size == 1234);
  CHECK(summary->piece_count == 4);
  CHECK(summary->trackers.empty());  // they live outside the info dict
  CHECK(summary->magnet == magnet_link(written->info_hash, community, {}));

  auto info_bytes = [](const lt::entry& torrent) {
    std::string out;
    lt::bencode(std::back_inserter(out), torrent.dict().at("info"));
    return out;
  };
  auto hostile = archive_torrent_entry(2 * L, 500);
  SECTION("a name that is not a community ID") {
    hostile["info"]["name"] = "archivedata";
    auto checked = check_archive_info_dict(info_bytes(hostile));
    REQUIRE_FALSE(checked);
    CHECK(checked.error().code == errc::verification_failed);
    CHECK_THAT(checked.error().message, Catch::Contains("\"archivedata\" is not a community ID"));
  }
  SECTION("an extra file") {
    lt::entry extra(lt::entry::dictionary_t);
    extra["length"] = 1;
    extra["path"] = lt::entry::list_type{lt::entry("extra")};
    hostile["info"]["files"].list().push_back(extra);
    auto checked = check_archive_info_dict(info_bytes(hostile));
    REQUIRE_FALSE(checked);
    CHECK_THAT(checked.error().message, Catch::Contains("3 files"));
  }
  SECTION("bytes that are not an info dict") {
    CHECK(check_archive_info_dict("garbage").error().code == errc::malformed);
    CHECK_THAT(check_archive_info_dict("i5e").error().message,
               Catch::Contains("not an info dictionary"));
  }
}

TEST_CASE("a member checks metadata from peers, saves the .torrent and flushes",
          "[net][session]") {
  temp_dir dir("annals-metadata");
  seeded_pair t(dir / "owner", 6, 150'000);  // index spans 2 pieces

  archive_layout member{dir / "member", community};
  auto hash = t.b->fetch(t.summary.magnet, member.archive_dir().parent_path(), {peer_of(*t.a)}, false);
  REQUIRE(hash);
  CHECK(t.b->metadata_summary(*hash).error().code == errc::invalid_argument);
  CHECK(t.b->have_pieces(*hash).error().code == errc::invalid_argument);
  CHECK(t.b->save_torrent_file(*hash, member.torrent_file()).error().code ==
        errc::invalid_argument);
  REQUIRE(t.loop.run_until([&] { return t.loop.saw(1, torrent_event::kind::metadata_received); }));

  auto checked = t.b->metadata_summary(*hash);
  REQUIRE(checked);
  CHECK(checked->info_hash == t.summary.info_hash);
  CHECK(checked->name == community);
  CHECK(checked->data_size == t.summary.data_size);
  CHECK(checked->index_size == t.summary.index_size);
  CHECK(checked->piece_count == t.summary.piece_count);
  auto have = t.b->have_pieces(*hash);
  REQUIRE(have);
  CHECK(have->size() == t.summary.piece_count);
  CHECK(std::none_of(have->begin(), have->end(), [](bool piece) { return piece; }));

  // The saved .torrent carries the fetched info dict byte for byte.
  REQUIRE(t.b->save_torrent_file(*hash, member.torrent_file()));
  auto saved = read_archive_torrent(member.torrent_file());
  REQUIRE(saved);
  CHECK(saved->info_hash == t.summary.info_hash);
  auto owner_bytes = read_file(t.owner.torrent_file());
  auto member_bytes = read_file(member.torrent_file());
  auto owner_info = decode(owner_bytes).dict_find_dict("info").data_section();
  auto member_info = decode(member_bytes).dict_find_dict("info").data_section();
  CHECK(std::string(owner_info.data(), owner_info.size()) ==
        std::string(member_info.data(), member_info.size()));

  REQUIRE(t.b->want_file(*hash, 1));
  REQUIRE(t.loop.run_until([&] {
    auto pieces = t.b->have_pieces(*hash);
    return pieces->at(6) && pieces->at(7);
  }));
  REQUIRE(t.loop.flush(1, *hash));
  CHECK(same_bytes(read_file(member.index_file()), read_file(t.owner.index_file())));
  CHECK(t.b->flush(std::string(40, 'b')).error().code == errc::not_found);
}

TEST_CASE("metadata_summary names the rule a hostile torrent breaks, before any piece",
          "[net][session]") {
  temp_dir dir("annals-hostile");
  // Sizes right and hashes real, so that a member that asked would get pieces.
  auto torrent = archive_torrent_entry(L, 10);
  lt::entry extra(lt::entry::dictionary_t);
  extra["length"] = 1;
  extra["path"] = lt::entry::list_type{lt::entry("extra")};
  torrent["info"]["files"].list().push_back(extra);
  auto files = std::string(L, 'd') + std::string(10, 'i') + "e";
  torrent["info"]["pieces"] = sha1(files.substr(0, L)) + sha1(files.substr(L));
  auto owner_dir = dir / "owner" / community;
  write_file(owner_dir / "data", files.substr(0, L));
  write_file(owner_dir / "index", files.substr(L, 10));
  write_file(owner_dir / "extra", "e");
  auto torrent_file = write_entry(dir, torrent);
  std::string info;
  lt::bencode(std::back_inserter(info), torrent["info"]);
  auto info_hash = to_hex(sha1(info));

  auto a = start_loopback();
  auto b = start_loopback();
  event_loop loop({a.get(), b.get()});
  auto seeded = a->seed(torrent_file, dir / "owner");
  REQUIRE(seeded);
  CHECK(*seeded == info_hash);
  REQUIRE(loop.run_until([&] { return a->progress(*seeded)->seeding; }));

  auto magnet = magnet_link(info_hash, community, {}, {peer_of(*a)});
  auto hash = b->fetch(magnet, dir / "member", {}, false);
  REQUIRE(hash);
  REQUIRE(loop.run_until([&] { return loop.saw(1, torrent_event::kind::metadata_received); }));
  auto checked = b->metadata_summary(*hash);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().code == errc::verification_failed);
  CHECK(checked.error().message ==
        info_hash + ": 3 files; an archive torrent has exactly data and index");

  loop.run_until([] { return false; }, std::chrono::seconds(1));
  CHECK(a->progress(*seeded)->total_upload == 0);
  CHECK(b->progress(*hash)->total_download == 0);
  CHECK_FALSE(fs::exists(dir / "member" / community / "data"));
}

TEST_CASE("fetch_torrent_file fetches without waiting for metadata", "[net][session]") {
  temp_dir dir("annals-by-file");
  seeded_pair t(dir / "owner", 4, 5000);

  archive_layout member{dir / "member", community};
  auto save_path = member.archive_dir().parent_path();
  CHECK(t.b->fetch_torrent_file(dir / "absent.torrent", save_path).error().code ==
        errc::not_found);
  CHECK(t.b->fetch_torrent_file(t.owner.torrent_file(), save_path, {"nowhere"}).error().code ==
        errc::invalid_argument);
  auto hash = t.b->fetch_torrent_file(t.owner.torrent_file(), save_path, {peer_of(*t.a)}, false);
  REQUIRE(hash);
  CHECK(*hash == t.summary.info_hash);
  CHECK(t.b->progress(*hash)->has_metadata);
  REQUIRE(t.b->metadata_summary(*hash));

  // Nothing was wanted yet, so nothing arrives. The torrent counts as
  // finished then, and libtorrent flushes it on its own; that must not pass
  // for the answer to a flush() yet to come.
  REQUIRE(t.loop.run_until([&] { return t.loop.saw(1, torrent_event::kind::finished); }));
  t.loop.run_until([] { return false; }, std::chrono::seconds(1));
  CHECK(t.b->progress(*hash)->total_download == 0);
  CHECK_FALSE(t.loop.saw(1, torrent_event::kind::flushed));

  REQUIRE(t.b->want_file(*hash, 0));
  REQUIRE(t.b->want_file(*hash, 1));
  bool done = t.loop.run_until([&] {
    auto pieces = t.b->have_pieces(*hash);
    return std::all_of(pieces->begin(), pieces->end(), [](bool piece) { return piece; });
  });
  INFO(t.loop.errors(1));
  REQUIRE(done);
  REQUIRE(t.loop.flush(1, *hash));
  CHECK(t.loop.count(1, torrent_event::kind::flushed) == 1);
  CHECK(same_bytes(read_file(member.data_file()), read_file(t.owner.data_file())));
  CHECK(same_bytes(read_file(member.index_file()), read_file(t.owner.index_file())));
}

namespace {

/// A BitTorrent peer that claims every piece, unchokes at once and answers
/// every request with garbage: what a poisoning peer does. Plain wire
/// protocol (BEP 3), no extensions, on 127.0.0.1 in its own thread.
class poisoning_peer {
public:
  poisoning_peer(std::string info_hash, std::size_t pieces)
      : info_hash_(std::move(info_hash)), pieces_(pieces) {
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { serve(); });
  }
  ~poisoning_peer() {
    stop_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    if (socket_)
      socket_->close(ignored);
    thread_.join();
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::uint64_t blocks_sent() const { return blocks_sent_; }

private:
  static std::string be32(std::uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  }
  static std::uint32_t read_be32(const char* p) {
    auto u = [&](int i) { return std::uint32_t(static_cast<unsigned char>(p[i])); };
    return u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
  }

  void serve() {
    boost::system::error_code ec;
    auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
    acceptor_.accept(*socket, ec);
    if (ec)
      return;
    socket_ = socket;
    std::string handshake(68, '\0');
    boost::asio::read(*socket, boost::asio::buffer(handshake), ec);
    if (ec || handshake.compare(28, 20, info_hash_) != 0)
      return;
    std::string reply = "\x13" "BitTorrent protocol" + std::string(8, '\0') + info_hash_
                        + "-PO0001-" + std::string(12, 'p');
    std::string bitfield((pieces_ + 7) / 8, '\0');
    for (std::size_t i = 0; i < pieces_; ++i)
      bitfield[i / 8] = static_cast<char>(bitfield[i / 8] | (0x80 >> (i % 8)));
    reply += be32(std::uint32_t(1 + bitfield.size())) + "\x05" + bitfield;
    reply += be32(1) + "\x01";  // unchoke
    boost::asio::write(*socket, boost::asio::buffer(reply), ec);
    std::mt19937_64 rng(99);
    while (!stop_ && !ec) {
      char length[4];
      boost::asio::read(*socket, boost::asio::buffer(length), ec);
      if (ec)
        return;
      std::string body(read_be32(length), '\0');
      if (body.size() > (1u << 20))
        return;
      boost::asio::read(*socket, boost::asio::buffer(body), ec);
      if (ec || body.empty() || body[0] != 6 || body.size() != 13)
        continue;  // only requests get an answer
      auto begin = body.substr(1, 8);  // index and offset, echoed
      std::string block(read_be32(body.data() + 9), '\0');
      for (auto& c : block)
        c = static_cast<char>(rng());
      auto piece = be32(std::uint32_t(9 + block.size())) + "\x07" + begin + block;
      boost::asio::write(*socket, boost::asio::buffer(piece), ec);
      ++blocks_sent_;
    }
  }

  std::string info_hash_;
  std::size_t pieces_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::shared_ptr<boost::asio::ip::tcp::socket> socket_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> blocks_sent_{0};
  std::thread thread_;
};

} // namespace

TEST_CASE("a peer sending corrupt pieces is banned and counted; the honest seeder still "
          "delivers every byte",
          "[net][session][hostile]") {
  temp_dir dir("annals-poison");
  constexpr int data_pieces = 24;
  seeded_pair t(dir / "owner", data_pieces, 150'000);

  auto hash_bytes = from_hex(t.summary.info_hash);
  REQUIRE(hash_bytes);
  poisoning_peer poisoner(*hash_bytes, data_pieces + 2);  // the index takes 2 pieces
  archive_layout member{dir / "member", community};
  // The poisoner first, so it gets asked for pieces from the start.
  auto fetched = t.b->fetch(t.summary.magnet, member.archive_dir().parent_path(),
                          {poisoner.address(), peer_of(*t.a)});
  REQUIRE(fetched);
  bool done = t.loop.run_until([&] { return t.loop.saw(1, torrent_event::kind::finished); },
                            std::chrono::seconds(60));
  INFO(t.loop.errors(1));
  REQUIRE(done);
  CHECK(poisoner.blocks_sent() > 0);
  CHECK(t.loop.count(1, torrent_event::kind::piece_failed) >= 1);
  CHECK(t.loop.saw(1, torrent_event::kind::peer_banned));
  REQUIRE(t.loop.flush(1, *fetched));
  CHECK(same_bytes(read_file(member.data_file()), read_file(t.owner.data_file())));
  CHECK(same_bytes(read_file(member.index_file()), read_file(t.owner.index_file())));
}

// A member stopped between saving a newer set's .torrent and moving that
// set's staged index into place: readers see the set the .torrent describes,
// and promotion moves the staged index, only when it is the described one.
TEST_CASE("a fetched set's staged index is the described one until promoted",
          "[net][torrent_file]") {
  temp_dir dir("annals-torrent");
  archive_layout owner{dir.path() / "owner", community};
  archive_layout member{dir.path() / "member", community};
  auto build = [&](std::uint64_t first_week, std::uint64_t weeks) {
    build_weeks(owner, first_week, weeks, 3, 40'000);
    REQUIRE(write_archive_torrent(owner, {}));
  };
  // The member holds the first set whole.
  build(0, 1);
  fs::create_directories(member.archive_dir());
  fs::create_directories(member.torrent_file().parent_path());
  for (auto [from, to] : {std::pair{owner.data_file(), member.data_file()},
                          {owner.index_file(), member.index_file()},
                          {owner.torrent_file(), member.torrent_file()}})
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  auto old_index = read_file(member.index_file());
  CHECK(described_index_file(member) == member.index_file());
  CHECK_FALSE(*promote_fetched_index(member));

  // The newer set arrived: data grown, its index staged, its .torrent saved;
  // the stop came before the rename.
  build(1, 1);
  fs::copy_file(owner.data_file(), member.data_file(), fs::copy_options::overwrite_existing);
  fs::copy_file(owner.index_file(), member.fetching_index_file());
  fs::copy_file(owner.torrent_file(), member.torrent_file(), fs::copy_options::overwrite_existing);
  REQUIRE(read_file(member.index_file()) == old_index);
  CHECK(described_index_file(member) == member.fetching_index_file());
  auto torrent = verify_archive_torrent_files(member);
  INFO((torrent ? std::string() : torrent.error().message));
  CHECK(torrent);
  auto report = verify_archive_dir(member.archive_dir(), true, nullptr, described_index_file(member));
  REQUIRE(report);
  CHECK(report->ok());
  CHECK(report->archives.size() == 2);
  CHECK(report->fetching_bytes == 0);
  // Read as `index`, the old set is whole and the rest is the fetch's.
  auto old_view = verify_archive_dir(member.archive_dir(), false);
  REQUIRE(old_view);
  CHECK(old_view->archives.size() == 1);
  CHECK(old_view->fetching_bytes > 0);

  // A staged index that is not the described one stays where it is.
  auto staged_bytes = read_file(member.fetching_index_file());
  write_file(member.fetching_index_file(), old_index);
  CHECK(described_index_file(member) == member.index_file());
  CHECK_FALSE(*promote_fetched_index(member));
  CHECK(fs::exists(member.fetching_index_file()));

  write_file(member.fetching_index_file(), staged_bytes);
  auto promoted = promote_fetched_index(member);
  REQUIRE(promoted);
  CHECK(*promoted);
  CHECK_FALSE(fs::exists(member.fetching_index_file()));
  CHECK(read_file(member.index_file()) == staged_bytes);
  CHECK(described_index_file(member) == member.index_file());
  CHECK(verify_archive_torrent_files(member));
}
