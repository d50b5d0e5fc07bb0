// `annals archive import`: an archive directory (as `archive build` or
// `archive fetch` wrote it) into a node's store, with a member's bookkeeping
// and dedup, so a later `annals run` on that data directory knows the
// archives as imported. Operators seed a node from a mirror with it.
#include "app/commands.hpp"
#include "app/json_text.hpp"
#include "core/archive_reader.hpp"
#include "core/identity.hpp"
#include "net/torrent_file.hpp"
#include "storage/archive_import.hpp"
#include "storage/store.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <set>

namespace annals::app {

namespace {

using steady = std::chrono::steady_clock;

struct import_options {
  std::string dir;
  std::string data_dir;
  std::string community;
  std::string keys_file;
};

void run_import(const import_options& options) {
  auto started = steady::now();
  auto layout = take(resolve_layout(options.dir, options.community));
  auto key = public_key::from_community_id(layout.community_id);
  if (!key)
    fail(make_error(errc::invalid_argument,
                    layout.community_id + " (the archive directory's name) is not a community ID"),
         exit_bad_input);
  std::optional<hr_keyring> keys;
  if (!options.keys_file.empty())
    keys = take(load_hr_keys(options.keys_file), "--keys");
  // The structure first: a damaged set is refused before anything is written.
  // The set the .torrent describes, even when a member stopped before
  // moving its fetched index into place.
  auto index_file = described_index_file(layout);
  auto verified =
    take(verify_archive_dir(layout.archive_dir(), false, keys ? &*keys : nullptr, index_file),
         layout.archive_dir().string());
  if (!verified.ok()) {
    for (const auto& problem : verified.problems)
      std::cerr << "annals: verification failed: " << problem << "\n";
    fail(make_error(errc::verification_failed, std::to_string(verified.problems.size())
                                                 + " problem(s) in " + layout.archive_dir().string()
                                                 + "; nothing imported"));
  }

  // With a torrent, every piece must hash as it says before a byte is
  // imported: a message altered in `data` still decodes, and once imported
  // its ID would make the genuine one a duplicate for good.
  std::error_code ec;
  bool pieces_checked = std::filesystem::exists(layout.torrent_file(), ec);
  if (pieces_checked) {
    auto torrent = verify_archive_torrent_files(layout);
    if (!torrent)
      fail(make_error(errc::verification_failed, layout.torrent_file().string() + ": "
                                                   + torrent.error().message
                                                   + "; nothing imported"));
  } else {
    std::cerr << "annals: no torrent at " << layout.torrent_file().string()
              << ": piece hashes not checked, importing what decodes\n";
  }

  auto db = take(store::open(std::filesystem::path(options.data_dir) / "db"));
  auto record = take(db->get_community(*key));
  if (!record) {
    // Known to the node as a joined community, so `annals run` imports and
    // seeds it like one it downloaded.
    auto joined = community_record(*key, {}, record::Community::MEMBER);
    if (!options.keys_file.empty())
      joined.set_keys_file(std::filesystem::absolute(options.keys_file).string());
    take(db->put_community(joined));
  }
  std::set<std::string> imported;
  for (const auto& [id, archive] : take(db->list_archives(*key)))
    if (archive.imported())
      imported.insert(id);

  std::uint64_t total_bytes = 0;
  for (const auto& archive : verified.archives)
    total_bytes += archive.entry.size();
  archive_import_stats sum;
  std::size_t done_archives = 0;
  std::size_t skipped = 0;
  std::uint64_t done_bytes = 0;
  auto next_report = steady::now();
  // Oldest first, as a member imports.
  auto archives = verified.archives;
  std::stable_sort(archives.begin(), archives.end(), [](const auto& a, const auto& b) {
    return a.entry.metadata().from() < b.entry.metadata().from();
  });
  for (const auto& archive : archives) {
    done_bytes += archive.entry.size();
    if (imported.count(archive.id)) {
      ++skipped;
      continue;
    }
    auto bytes = read_archive_bytes(layout.data_file(), archive.entry, keys ? &*keys : nullptr);
    auto decoded = bytes ? wire_archive(*bytes) : result<archive_wire>(bytes.error());
    if (!decoded)
      fail(make_error(decoded.error().code, "archive " + archive.id + ": "
                                              + decoded.error().message + " ("
                                              + std::to_string(done_archives)
                                              + " archives imported before it stay)"));
    built_archive held{archive.id, archive.entry, decoded->messages.size()};
    take(db->mark_archives_downloaded(*key, {held}));
    auto stats = take(import_archive(*db, *key, archive.id, *decoded, 5000));
    sum.messages += stats.messages;
    sum.inserted += stats.inserted;
    sum.duplicates += stats.duplicates;
    ++done_archives;
    auto now = steady::now();
    if (now >= next_report || done_bytes == total_bytes) {
      auto seconds = std::chrono::duration<double>(now - started).count();
      auto rate = seconds > 0 ? static_cast<double>(sum.messages) / seconds : 0.0;
      auto eta = done_bytes > 0 ? seconds * static_cast<double>(total_bytes - done_bytes)
                                    / static_cast<double>(done_bytes)
                                : 0.0;
      std::cerr << "imported " << done_archives + skipped << " of " << archives.size()
                << " archives, " << sum.messages << " messages (" << static_cast<std::uint64_t>(rate)
                << " msg/s, ETA " << static_cast<std::uint64_t>(eta) << " s)\n";
      next_report = now + std::chrono::seconds(1);
    }
  }
  std::cout << json_text(nlohmann::ordered_json{
                 {"community_id", layout.community_id},
                 {"archives", done_archives},
                 {"already_imported", skipped},
                 {"pieces_checked", pieces_checked},
                 {"messages", sum.messages},
                 {"new_messages", sum.inserted},
                 {"duplicates", sum.duplicates},
                 {"seconds", std::chrono::duration<double>(steady::now() - started).count()}}
                 ,2)
            << "\n";
}

} // namespace

void add_archive_import_command(CLI::App& archive) {
  auto o = std::make_shared<import_options>();
  auto* import = archive.add_subcommand(
    "import", "Import an archive directory into a node's store, as a member would; print a "
              "JSON summary");
  import->add_option("DIR", o->dir, "Archive directory, or a root with archivedata/")->required();
  import->add_option("--data-dir", o->data_dir, "The node's data directory (its db/)")
    ->required();
  import->add_option("--community", o->community, "Community ID when DIR holds several");
  import->add_option("--keys", o->keys_file,
                     "Keys file to open a token-gated community's index and archives");
  import->callback([o] { run_import(*o); });
}

} // namespace annals::app
