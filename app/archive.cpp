// `annals archive build|inspect`: offline archives, as status-go's Discord
// import makes them, and an independent check of any archive directory.
#include "app/commands.hpp"
#include "app/json_text.hpp"
#include "app/progress.hpp"
#include "core/archive_builder.hpp"
#include "core/archive_reader.hpp"
#include "core/identity.hpp"
#include "core/message_jsonl.hpp"
#include "core/file_io.hpp"
#include "net/torrent_file.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <algorithm>
#include <set>

namespace annals::app {

namespace {

using json = nlohmann::json;

struct build_options {
  std::string key_file;
  std::string messages_file;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::uint64_t partition = default_partition_seconds;
  std::vector<std::string> trackers;
  std::vector<std::string> topics;
  std::string out;
  std::string keys_file;  // token-gated: encrypt with the community's newest key
};

std::vector<topic4> archive_topics(const build_options& options,
                                   const std::vector<archive_message>& messages) {
  std::set<topic4> topics;
  if (!options.topics.empty()) {
    for (const auto& text : options.topics)
      topics.insert(take(parse_topic_hex(text), "--topics"));
  } else {
    for (const auto& message : messages)
      topics.insert(message.topic);
  }
  return {topics.begin(), topics.end()};
}

void run_build(const build_options& options) {
  auto key = take(private_key::load(options.key_file));
  if (options.from >= options.to)
    fail("--from must be before --to", exit_bad_input);
  if (options.partition == 0)
    fail("--partition must be at least 1 second", exit_bad_input);
  // Each window is a scan of the input; billions of empty ones never end.
  constexpr std::uint64_t max_windows = 1'000'000;
  if ((options.to - options.from) / options.partition >= max_windows)
    fail("[--from, --to) in windows of --partition " + std::to_string(options.partition)
           + " s would be over " + std::to_string(max_windows)
           + " windows; use a larger --partition or a shorter range",
         exit_bad_input);
  // A regular file of a sane size only: /dev/zero would be read without
  // end, a FIFO would block, a directory "opens" and reads nothing.
  constexpr std::uint64_t max_messages_file = std::uint64_t{4} << 30;
  if (auto checked = regular_file_within(options.messages_file, max_messages_file); !checked)
    fail(make_error(checked.error().code, "--messages " + checked.error().message),
         exit_bad_input);
  std::ifstream in(options.messages_file);
  if (!in)
    fail(options.messages_file + ": cannot open", exit_bad_input);
  // The read is most of a large build's time: it reports like a transfer.
  auto read_started = std::chrono::steady_clock::now();
  std::error_code size_ec;
  auto file_bytes = std::filesystem::file_size(options.messages_file, size_ec);
  transfer_printer read_printer;
  auto next_read_line = read_started + std::chrono::seconds(1);
  auto messages = take(
    read_messages_jsonl(in,
                        [&](std::uint64_t bytes, std::size_t parsed) {
                          auto now = std::chrono::steady_clock::now();
                          if (now < next_read_line || size_ec || bytes >= file_bytes)
                            return;
                          next_read_line = now + std::chrono::seconds(1);
                          auto seconds = std::chrono::duration<double>(now - read_started).count();
                          auto rate = static_cast<std::uint64_t>(double(bytes) / seconds);
                          char line[200];
                          std::snprintf(line, sizeof line,
                                        "reading %.1f/%.1f MB at %.1f MB/s, ETA %llu s, %zu "
                                        "messages",
                                        double(bytes) / 1e6, double(file_bytes) / 1e6,
                                        double(rate) / 1e6,
                                        static_cast<unsigned long long>(
                                          rate > 0 ? (file_bytes - bytes + rate - 1) / rate : 0),
                                        parsed);
                          read_printer.update(line);
                        }),
    options.messages_file);
  read_printer.finish();
  auto read_seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - read_started).count();
  // A message is archived once: status-go dedups by hash on import, and an
  // archive holding a hash twice would count it twice for every reader.
  std::set<std::string> seen;
  auto before = messages.size();
  messages.erase(std::remove_if(messages.begin(), messages.end(),
                                [&](const archive_message& m) { return !seen.insert(m.hash).second; }),
                 messages.end());
  if (messages.size() < before)
    std::cerr << "skipped " << before - messages.size() << " message(s) whose hash appeared "
              << "earlier in " << options.messages_file << "\n";
  auto topics = archive_topics(options, messages);
  if (topics.empty())
    fail(options.messages_file + ": no messages, so no content topics (name them with --topics)",
         exit_bad_input);
  {
    char rate[64] = "";
    if (!size_ec && read_seconds > 0)
      std::snprintf(rate, sizeof rate, " at %.1f MB/s", double(file_bytes) / 1e6 / read_seconds);
    std::cerr << "read " << counted(messages.size(), "message") << " on "
              << counted(topics.size(), "topic") << " from " << options.messages_file << " in " << format_seconds(read_seconds)
              << rate << "\n";
  }

  archive_layout layout{options.out, key.public_key().community_id()};
  build_request request{options.from, options.to, options.partition, topics};
  if (!options.keys_file.empty())
    request.cipher = take(open_archive_cipher(layout.community_id, options.keys_file, options.out),
                          "--keys");
  auto started = std::chrono::steady_clock::now();
  // In place on a terminal; in a log or a pipe a line a second and the last.
  transfer_printer printer;
  auto next_line = started;
  auto report = take(build_archives(layout, request, memory_source(std::move(messages)),
                                    [&](std::size_t done, std::size_t total) {
                                      auto now = std::chrono::steady_clock::now();
                                      if (!printer.in_place() && done < total && now < next_line)
                                        return;
                                      next_line = now + std::chrono::seconds(1);
                                      printer.update("window " + std::to_string(done) + "/"
                                                     + std::to_string(total));
                                    }));
  printer.finish();
  for (const auto& dropped : report.dropped)
    std::cerr << "dropped message 0x" << to_hex(dropped.hash) << " at " << dropped.timestamp
              << ": " << dropped.cap_size << " bytes of payload+sig exceed the "
              << max_archive_payload << "-byte archive cap\n";
  if (report.recovered_tail > 0)
    std::cerr << "cut " << report.recovered_tail
              << " bytes left in data by an interrupted earlier build\n";
  if (report.archives.empty()) {
    std::cerr << "no archives created: no messages in [" << options.from << ", " << options.to
              << ")\n";
    std::error_code ec;
    if (!std::filesystem::exists(layout.index_file(), ec))
      return;
  }
  torrent_options torrent{options.trackers, "annals", static_cast<std::int64_t>(std::time(nullptr))};
  auto summary = take(write_archive_torrent(layout, torrent, &report.appended_pieces));
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "created " << counted(report.archives.size(), "archive") << " ("
            << counted(report.messages, "message") << ", " << report.bytes_appended
            << " bytes) in " << format_seconds(read_seconds + seconds) << " (read "
            << format_seconds(read_seconds) << ", build " << format_seconds(seconds) << ")\n"
            << "data:    " << layout.data_file().string() << "\n"
            << "index:   " << layout.index_file().string() << "\n"
            << "torrent: " << layout.torrent_file().string() << "\n";
  std::cout << summary.magnet << "\n";
}

int run_inspect(const std::string& dir, const std::string& community, bool structure_only,
                const std::string& keys_file) {
  auto layout = take(resolve_layout(dir, community));
  std::optional<hr_keyring> keys;
  if (!keys_file.empty())
    keys = take(load_hr_keys(keys_file), "--keys");
  // An archive directory copied out of its layout still verifies; only the
  // torrent lookup needs the layout.
  std::error_code ec;
  auto archive_dir = std::filesystem::exists(std::filesystem::path(dir) / "index", ec)
                       ? std::filesystem::path(dir)
                       : layout.archive_dir();
  // A member stopped between saving a fetched set's .torrent and moving its
  // index into place: the set is the one the .torrent describes, whose
  // index is still staged (the next start moves it).
  std::filesystem::path index_file;
  if (std::filesystem::equivalent(archive_dir, layout.archive_dir(), ec))
    if (auto described = described_index_file(layout); described != layout.index_file())
      index_file = archive_dir / described.filename();
  auto report = take(
    verify_archive_dir(archive_dir, !structure_only, keys ? &*keys : nullptr, index_file),
    archive_dir.string());

  json out;
  out["community_id"] = layout.community_id;
  out["archive_dir"] = archive_dir.string();
  out["data_size"] = report.data_size;
  json archives = json::array();
  std::size_t messages = 0;
  for (const auto& a : report.archives) {
    const auto& meta = a.entry.metadata();
    json topics = json::array();
    for (const auto& t : meta.contenttopic())
      topics.push_back(to_hex0x(t));
    archives.push_back({{"id", a.id},
                        {"from", meta.from()},
                        {"to", meta.to()},
                        {"offset", a.entry.offset()},
                        {"size", a.entry.size()},
                        {"padding", a.entry.padding()},
                        {"messages", a.message_count},
                        {"content_topics", topics},
                        {"ok", a.ok}});
    messages += a.message_count;
  }
  out["archives"] = archives;
  out["messages"] = messages;

  auto problems = report.problems;
  if (std::filesystem::exists(layout.torrent_file(), ec)) {
    auto torrent = verify_archive_torrent_files(layout);
    if (!torrent)
      problems.push_back("torrent: " + torrent.error().message);
    else
      out["torrent"] = {{"file", layout.torrent_file().string()},
                        {"info_hash", torrent->info_hash},
                        {"pieces", torrent->piece_count},
                        {"magnet", torrent->magnet}};
  }
  // Without a torrent no piece hash was checked: the messages decode, but
  // nothing says they are the bytes the owner built.
  out["pieces_checked"] = out.contains("torrent");
  if (!out.contains("torrent") && problems.empty())
    std::cerr << "annals: no torrent at " << layout.torrent_file().string()
              << ": piece hashes not checked (the structure and messages are)\n";
  out["index_staged"] = !index_file.empty();
  if (!index_file.empty())
    std::cerr << "annals: the index the torrent describes is staged at " << index_file.string()
              << "; the node's next start moves it into place\n";
  out["fetching_bytes"] = report.fetching_bytes;
  if (report.fetching_bytes > 0)
    std::cerr << "annals: " << report.fetching_bytes << " bytes past the last archive belong to a "
              << "newer set being fetched (" << (archive_dir / fetching_index_name).string()
              << "); the set described is whole without them\n";
  out["problems"] = problems;
  out["ok"] = problems.empty();
  std::cout << json_text(out, 2) << "\n";
  for (const auto& p : problems)
    std::cerr << "annals: verification failed: " << p << "\n";
  return problems.empty() ? 0 : exit_failure;
}

} // namespace

result<archive_layout> resolve_layout(const std::filesystem::path& dir,
                                      const std::string& community) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir / "index", ec) || fs::exists(dir / "data", ec)) {
    auto canonical = fs::weakly_canonical(dir, ec);
    return archive_layout{canonical.parent_path().parent_path(), canonical.filename().string()};
  }
  if (!community.empty())
    return archive_layout{dir, community};
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir / "archivedata", ec))
    if (entry.is_directory())
      found.push_back(entry.path().filename().string());
  if (found.size() == 1)
    return archive_layout{dir, found.front()};
  if (found.empty())
    return make_error(errc::not_found, dir.string()
                                         + ": neither an archive directory (data, index) nor "
                                           "a root with archivedata/<communityID>/");
  std::string list;
  for (const auto& id : found)
    list += " " + id;
  return make_error(errc::invalid_argument,
                    dir.string() + " holds several communities; pick one with --community:" + list);
}

void add_archive_commands(CLI::App& app) {
  auto* archive = app.add_subcommand("archive", "Build, inspect, seed and fetch history archives");
  archive->require_subcommand(1);

  auto b = std::make_shared<build_options>();
  auto* build = archive->add_subcommand(
    "build", "Build archives from a JSONL message file (status-go's offline import path) "
             "and print the magnet link");
  build->add_option("--community-key", b->key_file, "Community private key file")->required();
  build->add_option("--messages", b->messages_file,
                    "JSONL, one message a line: timestamp, topic, payload (base64), sig, hash, "
                    "third_party_id?")
    ->required();
  build->add_option("--from", b->from, "Start, unix seconds (inclusive)")
    ->required()
    ->check(unsigned_number);
  build->add_option("--to", b->to, "End, unix seconds (exclusive)")
    ->required()
    ->check(unsigned_number);
  build->add_option("--partition", b->partition, "Seconds per archive window (default 7 days)")
    ->check(unsigned_number);
  build->add_option("--tracker", b->trackers, "Tracker URL for announce-list and magnet (repeat)");
  build->add_option("--topics", b->topics,
                    "Content topics of the archives (0x + 8 hex); default: the input's topics")
    ->delimiter(',');
  build->add_option("--out", b->out, "Output root: archivedata/<id>/ and torrents/")->required();
  build->add_option("--keys", b->keys_file,
                    "Keys file of a token-gated community: encrypt each archive and the index "
                    "with its newest key, as status-go does");
  build->callback([b] { run_build(*b); });

  auto dir = std::make_shared<std::string>();
  auto community = std::make_shared<std::string>();
  auto structure_only = std::make_shared<bool>(false);
  auto keys = std::make_shared<std::string>();
  auto* inspect = archive->add_subcommand(
    "inspect", "Print an archive directory's index as JSON and verify it (exit 1 when it fails)");
  inspect->add_option("DIR", *dir, "Archive directory, or a root with archivedata/")->required();
  inspect->add_option("--community", *community, "Community ID when DIR holds several");
  inspect->add_flag("--structure-only", *structure_only, "Do not decode archive contents");
  inspect->add_option("--keys", *keys, "Keys file to open a token-gated community's archives");
  inspect->callback([dir, community, structure_only, keys] {
    if (int code = run_inspect(*dir, *community, *structure_only, *keys); code != 0)
      throw CLI::RuntimeError("", code);
  });
  add_archive_transfer_commands(*archive);
  add_archive_import_command(*archive);
}

} // namespace annals::app
