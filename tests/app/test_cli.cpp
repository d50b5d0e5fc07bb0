// The `annals` binary as a user runs it: exit codes, stdout, files.
#include "core/archive_reader.hpp"
#include "core/identity.hpp"
#include "core/message_jsonl.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "tests/app/community_files.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace annals;
using annals::test::run_annals;
using annals::test::trim;
using annals::test::community_files;

namespace {

constexpr std::uint64_t week = 7 * 24 * 3600;
constexpr std::uint64_t t0 = 1'700'000'000;

} // namespace

TEST_CASE("keygen writes a 0600 key, prints its community ID, never overwrites", "[cli]") {
  test::temp_dir dir;
  auto key_file = dir / "k.key";
  auto r = run_annals("keygen --out " + key_file.string(), dir);
  REQUIRE(r.code == 0);
  auto key = private_key::load(key_file);
  REQUIRE(key);
  CHECK(trim(r.out) == key->public_key().community_id());
  struct stat st;
  REQUIRE(::stat(key_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto again = run_annals("keygen --out " + key_file.string(), dir);
  CHECK(again.code != 0);
  CHECK(again.err.find(key_file.string()) != std::string::npos);
  CHECK(private_key::load(key_file)->public_key() == key->public_key());
}

TEST_CASE("archive build prints a status-go magnet link, and inspect verifies it", "[cli]") {
  community_files f(2000);
  auto r = run_annals(f.build_args() + " --tracker udp://tracker.opentrackr.org:1337/announce"
                 " --tracker udp://tracker.openbittorrent.com:6969/announce",
               f.dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  // stderr is a file here, not a terminal: whole lines, no \r rewrites.
  CHECK(r.err.find('\r') == std::string::npos);
  CHECK(std::regex_search(r.err, std::regex("(^|\n)window ([0-9]+)/\\2\n")));
  auto magnet = trim(r.out);
  std::regex shape("magnet:\\?xt=urn:btih:[0-9a-f]{40}&dn=" + f.community.id()
                   + "&tr=udp%3A%2F%2Ftracker.opentrackr.org%3A1337%2Fannounce"
                     "&tr=udp%3A%2F%2Ftracker.openbittorrent.com%3A6969%2Fannounce");
  CHECK(std::regex_match(magnet, shape));

  auto inspect = run_annals("archive inspect " + (f.dir / "out").string(), f.dir);
  INFO(inspect.err);
  REQUIRE(inspect.code == 0);
  auto report = nlohmann::json::parse(inspect.out);
  CHECK(report["ok"] == true);
  CHECK(report["community_id"] == f.community.id());
  REQUIRE(report["archives"].size() == 2);
  CHECK(report["messages"] == 2000);
  CHECK(report["archives"][0]["from"] == t0);
  CHECK(report["archives"][1]["offset"] == report["archives"][0]["size"]);
  CHECK(magnet.find(report["torrent"]["info_hash"].get<std::string>()) != std::string::npos);
  CHECK(report["archives"][0]["content_topics"].size() == 3);
}

TEST_CASE("inspect names what is wrong and exits 1", "[cli]") {
  community_files f(300);
  REQUIRE(run_annals(f.build_args(), f.dir).code == 0);
  archive_layout layout{f.dir / "out", f.community.id()};
  std::filesystem::resize_file(layout.data_file(), 100);
  auto r = run_annals("archive inspect " + layout.archive_dir().string(), f.dir);
  CHECK(r.code == 1);
  CHECK(r.err.find("extends past the end of data") != std::string::npos);
  CHECK(nlohmann::json::parse(r.out)["ok"] == false);

  auto missing = run_annals("archive inspect " + (f.dir / "nowhere").string(), f.dir);
  CHECK(missing.code == 2);
  CHECK(missing.err.find("nowhere") != std::string::npos);
}

TEST_CASE("bad input to archive build is named, with the line", "[cli]") {
  community_files f(10);
  {
    std::ofstream out(f.messages_file, std::ios::app);
    out << "{\"timestamp\": 5}\n";
  }
  auto r = run_annals(f.build_args(), f.dir);
  CHECK(r.code == 2);
  CHECK(r.err.find("line 11") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir / "out" / "archivedata"));

  auto bad_range = run_annals("archive build --community-key " + f.key_file.string() + " --messages "
                         + f.messages_file.string() + " --from 10 --to 5 --out "
                         + (f.dir / "o").string(),
                       f.dir);
  CHECK(bad_range.code == 2);
}

TEST_CASE("100,000 messages: built, inspected, and fetched by magnet link over loopback",
          "[cli][slow]") {
  community_files f(100'000, 4);
  auto built = run_annals(f.build_args(4), f.dir);
  INFO(built.err);
  REQUIRE(built.code == 0);
  // The read is reported and counted in the summary, beside the build.
  CHECK_THAT(built.err, Catch::Contains("read 100000 messages on ") && Catch::Contains(" MB/s"));
  CHECK_THAT(built.err, Catch::Contains(" (read ") && Catch::Contains(", build "));
  auto inspect = run_annals("archive inspect " + (f.dir / "out").string(), f.dir);
  REQUIRE(inspect.code == 0);
  CHECK(nlohmann::json::parse(inspect.out)["messages"] == 100'000);

  archive_layout owner{f.dir / "out", f.community.id()};
  auto seeder = torrent_session::start(loopback_session_options());
  REQUIRE(seeder);
  REQUIRE((*seeder)->seed(owner.torrent_file(), owner.root / "archivedata"));
  auto member = torrent_session::start(loopback_session_options());
  REQUIRE(member);
  auto magnet = trim(built.out);
  auto peer = "127.0.0.1:" + std::to_string((*seeder)->listen_port());
  auto hash = (*member)->fetch(magnet, f.dir / "member" / "archivedata", {peer});
  REQUIRE(hash);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    (*seeder)->poll(std::chrono::milliseconds(0));
    (*member)->poll(std::chrono::milliseconds(50));
    auto p = (*member)->progress(*hash);
    done = p && (p->finished || p->seeding);
  }
  REQUIRE(done);
  archive_layout copy{f.dir / "member", f.community.id()};
  CHECK(test::read_file(copy.data_file()) == test::read_file(owner.data_file()));
  CHECK(test::read_file(copy.index_file()) == test::read_file(owner.index_file()));
  auto verified = verify_archive_dir(copy.archive_dir());
  REQUIRE(verified);
  CHECK(verified->ok());
}

TEST_CASE("annals --version prints the project version and the git revision it was built from", "[cli]") {
  test::temp_dir dir;
  auto r = run_annals("--version", dir);
  REQUIRE(r.code == 0);
  CHECK(trim(r.out) == std::string("annals ") + ANNALS_PROJECT_VERSION + " (" + ANNALS_REVISION + ")");
  // A checkout gives a short commit hash; a source tarball says so.
  CHECK(std::regex_match(std::string(ANNALS_REVISION),
                         std::regex("[0-9a-f]{7,40}|unknown revision")));
  CHECK(std::regex_match(std::string(ANNALS_PROJECT_VERSION), std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")));
}
