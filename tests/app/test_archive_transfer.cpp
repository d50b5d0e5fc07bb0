// `annals archive seed` and `annals archive fetch` as a user runs them: a
// seed process in the background, fetches over 127.0.0.1, and hostile
// torrents served by a session in this process.
#include "core/archive_format.hpp"
#include "core/identity.hpp"
#include "core/message_jsonl.hpp"
#include "core/synthetic.hpp"
#include "net/torrent_file.hpp"
#include "net/torrent_session.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/app/small_disk.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/hasher.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

using namespace annals;
using annals::test::run_annals;
using annals::test::run_result;
namespace fs = std::filesystem;

namespace {

constexpr auto L = archive_piece_length;
constexpr std::uint64_t week = 7 * 24 * 3600;
constexpr std::uint64_t t0 = 1'700'000'000;

/// The annals binary running in the background (fork + exec), its stdout on
/// a pipe and its stderr in a file. The destructor kills what is still
/// running, so a failed REQUIRE leaves no process behind.
class background {
public:
  background(const std::vector<std::string>& args, fs::path err_file)
    : err_file_(std::move(err_file)) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int err = ::open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::close_range(3, ~0u, 0);  // nothing of the test process lives on in the child
      std::vector<char*> argv{const_cast<char*>(ANNALS_BINARY)};
      for (const auto& arg : args)
        argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(ANNALS_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~background() {
    if (pid_ > 0)
      stop(SIGKILL);
    ::close(out_);
  }
  background(const background&) = delete;
  background& operator=(const background&) = delete;

  /// The next line of stdout, or nullopt when none arrives within `limit`.
  std::optional<std::string> read_line(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto end = buffer_.find('\n'); end != std::string::npos) {
        auto line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      pollfd readable{out_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0)
        return std::nullopt;
      char chunk[4096];
      auto n = ::read(out_, chunk, sizeof(chunk));
      if (n <= 0)
        return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Sends `signal` and reaps the process: its exit code, or -1 when it did
  /// not exit normally within 10 s (it is then killed).
  int stop(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    for (int waited_ms = 0; ::waitpid(pid_, &status, WNOHANG) == 0; waited_ms += 20) {
      if (waited_ms >= 10'000) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string err() const { return test::read_file(err_file_); }

private:
  fs::path err_file_;
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

/// A community's archives built by `annals archive build` under dir/owner.
struct built_archives {
  test::temp_dir dir{"annals-transfer-cli"};
  synthetic_community community = synthetic_community::make(3, 11);
  archive_layout layout{dir / "owner", community.id()};
  std::size_t messages;

  explicit built_archives(std::size_t count) : messages(count) {
    auto key_file = dir / "community.key";
    auto messages_file = dir / "messages.jsonl";
    REQUIRE(community.key.save(key_file));
    synthetic_traffic traffic;
    traffic.count = count;
    traffic.from = t0;
    traffic.to = t0 + 3 * week;
    traffic.max_payload = 1024;
    {
      std::ofstream out(messages_file);
      for (const auto& m : make_synthetic_messages(community, traffic))
        out << message_to_json(m) << "\n";
    }
    auto built = run_annals("archive build --community-key " + key_file.string() + " --messages " +
                       messages_file.string() + " --from " + std::to_string(t0) + " --to " +
                       std::to_string(t0 + 3 * week) + " --out " + layout.root.string(),
                     dir);
    INFO(built.err);
    REQUIRE(built.code == 0);
  }
};

/// The port of a magnet link's x.pe=127.0.0.1:PORT.
std::string magnet_port(const std::string& magnet) {
  const std::string marker = "x.pe=127.0.0.1%3A";
  auto at = magnet.find(marker);
  REQUIRE(at != std::string::npos);
  return magnet.substr(at + marker.size(), magnet.find('&', at) - at - marker.size());
}

/// Whether any regular file under `root` holds a byte.
bool holds_bytes(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(root, ec))
    if (entry.is_regular_file() && entry.file_size() > 0)
      return true;
  return false;
}

std::string sha1(std::string_view bytes) {
  auto digest = lt::hasher(bytes.data(), static_cast<int>(bytes.size())).final();
  return {digest.data(), digest.size()};
}

/// Makes a torrent the way an attacker would, with libtorrent's own
/// entry/bencode, writes its files under `root`/`name`/ and seeds it from
/// `seeder`. The piece hashes are real, so a member that asked for a piece
/// would get one. Returns the info hash.
std::string seed_hostile(torrent_session& seeder, const fs::path& root, const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& files) {
  lt::entry info(lt::entry::dictionary_t);
  auto& list = info["files"] = lt::entry::list_type{};
  std::string all;
  for (const auto& [file, bytes] : files) {
    test::write_file(root / name / file, bytes);
    lt::entry entry(lt::entry::dictionary_t);
    entry["length"] = static_cast<std::int64_t>(bytes.size());
    entry["path"] = lt::entry::list_type{lt::entry(file)};
    list.list().push_back(std::move(entry));
    all += bytes;
  }
  std::string pieces;
  for (std::size_t offset = 0; offset < all.size(); offset += L)
    pieces += sha1(std::string_view(all).substr(offset, L));
  info["name"] = name;
  info["piece length"] = static_cast<std::int64_t>(L);
  info["pieces"] = pieces;
  lt::entry torrent(lt::entry::dictionary_t);
  torrent["info"] = info;
  std::string bytes;
  lt::bencode(std::back_inserter(bytes), torrent);
  auto torrent_file = root / "hostile.torrent";
  test::write_file(torrent_file, bytes);
  auto hash = seeder.seed(torrent_file, root);
  REQUIRE(hash);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!seeder.progress(*hash)->seeding) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    seeder.poll(std::chrono::milliseconds(20));
  }
  return *hash;
}

} // namespace

TEST_CASE("archive seed serves a built directory and archive fetch copies it byte for byte",
          "[cli][transfer]") {
  built_archives owner(20'000);
  background seed({"archive", "seed", owner.layout.root.string(), "--listen", "127.0.0.1:0"},
                  owner.dir / "seed-stderr.txt");
  auto magnet = seed.read_line(std::chrono::seconds(20));
  INFO(seed.err());
  REQUIRE(magnet);
  CHECK(magnet_name(*magnet) == owner.community.id());
  auto peer = "127.0.0.1:" + magnet_port(*magnet);
  auto data = test::read_file(owner.layout.data_file());
  auto index = test::read_file(owner.layout.index_file());

  archive_layout member{owner.dir / "member", owner.community.id()};
  auto started = std::chrono::steady_clock::now();
  auto fetched = run_annals("archive fetch '" + *magnet + "' --out " + member.root.string() +
                       " --peer " + peer + " --timeout 60",
                     owner.dir);
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  INFO(fetched.err);
  REQUIRE(fetched.code == 0);
  CHECK(test::read_file(member.data_file()) == data);
  CHECK(test::read_file(member.index_file()) == index);
  auto summary = nlohmann::json::parse(fetched.out);
  CHECK(summary["community_id"] == owner.community.id());
  CHECK(summary["archives"] == 3);
  CHECK(summary["messages"] == owner.messages);
  CHECK(summary["bytes_downloaded"].get<std::uint64_t>() >= data.size() + index.size());
  CHECK(summary["seconds"].get<double>() > 0);
  CHECK(summary["seconds"].get<double>() < seconds.count());
  // Progress names rate, ETA and peers; stderr is no terminal here, so
  // each update is a line of its own rather than a \r rewrite.
  CHECK_THAT(fetched.err, Catch::Contains("fetching the index") &&
                            Catch::Contains("fetched 100%: ") && Catch::Contains(" MB/s, ETA 0 s, ") &&
                            Catch::Contains("3 of 3 archives"));
  CHECK(fetched.err.find('\r') == std::string::npos);
  // Phases and the end: when the metadata came and from how many peers,
  // then the average over the archives, as aria2 ends.
  CHECK_THAT(fetched.err, Catch::Contains("metadata after ") && Catch::Contains(" from 1 peer;"));
  CHECK_THAT(fetched.err, Catch::Contains("fetched ") && Catch::Contains(" MB in ")
                            && Catch::Contains(", average "));

  // The fetched directory has its .torrent, so it inspects like a built one.
  auto inspect = run_annals("archive inspect " + member.root.string(), owner.dir);
  INFO(inspect.err);
  REQUIRE(inspect.code == 0);
  auto info_hash = nlohmann::json::parse(inspect.out)["torrent"]["info_hash"].get<std::string>();
  CHECK(magnet->find("xt=urn:btih:" + info_hash) != std::string::npos);

  archive_layout by_file{owner.dir / "member-by-file", owner.community.id()};
  auto from_file = run_annals("archive fetch " + owner.layout.torrent_file().string() + " --out " +
                         by_file.root.string() + " --peer " + peer + " --timeout 60",
                       owner.dir);
  INFO(from_file.err);
  REQUIRE(from_file.code == 0);
  CHECK(test::read_file(by_file.data_file()) == data);
  CHECK(test::read_file(by_file.index_file()) == index);
  CHECK(nlohmann::json::parse(from_file.out)["info_hash"] == info_hash);

  CHECK(seed.stop(SIGTERM) == 0);
  CHECK_THAT(seed.err(), Catch::Contains("stopping on SIGTERM"));
}

TEST_CASE("archive fetch refuses a hostile torrent before asking for any piece",
          "[cli][transfer]") {
  test::temp_dir dir("annals-hostile-cli");
  auto expected = private_key::generate().public_key().community_id();
  auto seeder = torrent_session::start(loopback_session_options());
  REQUIRE(seeder);
  auto peer = "127.0.0.1:" + std::to_string((*seeder)->listen_port());
  const std::vector<std::pair<std::string, std::string>> archive_files{
    {"data", std::string(L, 'd')}, {"index", "index bytes"}};

  std::string hash;
  std::string rule;
  SECTION("a name that is not a community ID") {
    hash = seed_hostile(**seeder, dir / "seed", "archivedata", archive_files);
    rule = "torrent name \"archivedata\" is not a community ID";
  }
  SECTION("another community's name") {
    auto other = "0x03" + std::string(64, 'd');
    hash = seed_hostile(**seeder, dir / "seed", other, archive_files);
    rule = "archive set is named \"" + other + "\", not the expected community " + expected;
  }
  SECTION("an extra file") {
    auto files = archive_files;
    files.emplace_back("extra", "planted");
    hash = seed_hostile(**seeder, dir / "seed", expected, files);
    rule = "3 files; an archive torrent has exactly data and index";
  }

  // The magnet link claims the expected community; only the metadata lies.
  auto out = dir / "member";
  auto fetched = run_annals("archive fetch '" + magnet_link(hash, expected, {}) + "' --out " +
                       out.string() + " --peer " + peer + " --timeout 30",
                     dir);
  INFO(fetched.err);
  CHECK(fetched.code == 1);
  CHECK_THAT(fetched.err, Catch::Contains("refused before fetching any piece") &&
                            Catch::Contains(rule));
  CHECK(fetched.out.empty());
  CHECK_FALSE(holds_bytes(out));
  CHECK_FALSE(fs::exists(out / "torrents"));
  CHECK((*seeder)->progress(hash)->total_upload == 0);
}

TEST_CASE("archive fetch onto a disk too small refuses before any piece, and succeeds once the "
          "disk grows",
          "[cli][transfer][disk]") {
  built_archives owner(20'000);
  test::small_disk disk(owner.dir / "small", "1m");
  if (!disk.mounted) {
    WARN("cannot mount a tmpfs here (not root?): the small-disk fetch did not run");
    return;
  }
  background seed({"archive", "seed", owner.layout.root.string(), "--listen", "127.0.0.1:0"},
                  owner.dir / "seed-stderr.txt");
  auto magnet = seed.read_line(std::chrono::seconds(20));
  REQUIRE(magnet);
  auto peer = "127.0.0.1:" + magnet_port(*magnet);
  auto fetch = [&] {
    return run_annals("archive fetch '" + *magnet + "' --out " + disk.at.string() + " --peer "
                        + peer + " --timeout 60",
                      owner.dir);
  };
  auto refused = fetch();
  INFO(refused.err);
  CHECK(refused.code == 1);
  CHECK_THAT(refused.err, Catch::Contains("not enough disk space in " + disk.at.string()));
  CHECK_FALSE(holds_bytes(disk.at.string()));

  // The check wants the set plus a headroom of 64 MiB.
  REQUIRE(disk.grow("256m"));
  auto fetched = fetch();
  INFO(fetched.err);
  REQUIRE(fetched.code == 0);
  archive_layout member{disk.at, owner.community.id()};
  CHECK(test::read_file(member.data_file()) == test::read_file(owner.layout.data_file()));
  CHECK(seed.stop(SIGTERM) == 0);
}

TEST_CASE("archive fetch names bad input and unreachable peers", "[cli][transfer]") {
  test::temp_dir dir("annals-fetch-cli");
  auto community = private_key::generate().public_key().community_id();
  auto hash = std::string(40, 'a');
  auto out = (dir / "out").string();

  auto no_dn = run_annals("archive fetch 'magnet:?xt=urn:btih:" + hash + "' --out " + out, dir);
  CHECK(no_dn.code == 2);
  CHECK_THAT(no_dn.err, Catch::Contains("no dn=<communityID>"));

  auto bad_dn = run_annals("archive fetch '" + magnet_link(hash, "0x02" + std::string(64, 'C'), {}) +
                      "' --out " + out,
                    dir);
  CHECK(bad_dn.code == 2);
  CHECK_THAT(bad_dn.err, Catch::Contains("is not a community ID"));

  auto missing = run_annals("archive fetch " + (dir / "absent.torrent").string() + " --out " + out, dir);
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("absent.torrent"));

  // Port 1 on loopback refuses every connection: two tries of one second.
  auto started = std::chrono::steady_clock::now();
  auto unreachable = run_annals("archive fetch '" + magnet_link(hash, community, {}) + "' --out " + out +
                           " --peer 127.0.0.1:1 --metadata-timeout 1",
                         dir);
  CHECK(unreachable.code == 1);
  CHECK_THAT(unreachable.err,
             Catch::Contains("timed out waiting for the archive set's metadata from peers, 1 s "
                             "2 times") &&
               Catch::Contains("127.0.0.1:1: connection refused"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK_FALSE(holds_bytes(out));
}

TEST_CASE("archive seed on a port in use fails naming the port", "[cli][transfer]") {
  built_archives owner(100);
  auto holder = torrent_session::start(loopback_session_options());
  REQUIRE(holder);
  auto taken = "127.0.0.1:" + std::to_string((*holder)->listen_port());
  auto seeded = run_annals("archive seed " + owner.layout.root.string() + " --listen " + taken, owner.dir);
  CHECK(seeded.code == 1);
  CHECK_THAT(seeded.err, Catch::Contains(taken + ": address already in use"));
  CHECK(seeded.out.empty());
}
