#include "actors/importer.hpp"

#include "actors/errors.hpp"
#include "actors/memory.hpp"
#include "actors/observation.hpp"

#include "core/archive_reader.hpp"
#include <annals/log.hpp>
#include "storage/archive_import.hpp"
#include "storage/community_keys.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <thread>

namespace annals {

namespace {

using self_ptr = importer_actor::stateful_pointer<importer_state>;

/// Imports every downloaded, unimported archive of `community`.
caf::expected<std::uint64_t> import_pending(self_ptr self, const std::string& community) {
  auto& state = self->state;
  auto fail = [](const error& why) { return to_caf_error(why, "importer"); };
  auto key = public_key::from_community_id(community);
  if (!key)
    return fail(key.error());
  auto pending = state.db->unimported_archives(*key);
  if (!pending)
    return fail(pending.error());
  if (pending->empty())
    return std::uint64_t{0};
  // A token-gated community's keys; a key that was missing before is
  // looked for again only when the keys file changed.
  std::shared_ptr<const hr_keyring> keys;
  std::filesystem::path keys_file;
  if (auto record = state.db->get_community(*key); record && *record) {
    keys_file = (*record)->keys_file();
    auto loaded = community_keys(**record);
    if (!loaded)
      return fail(loaded.error());
    keys = std::move(*loaded);
  }
  std::error_code ec;
  auto keys_changed = std::filesystem::last_write_time(keys_file, ec);
  if (auto waiting = state.waiting_for_keys.find(community);
      waiting != state.waiting_for_keys.end()) {
    if (waiting->second == keys_changed)
      return std::uint64_t{0};
    state.waiting_for_keys.erase(waiting);
  }
  auto missing_key = [&](const error& why) {
    state.waiting_for_keys[community] = keys_changed;
    auto key_id = hr_missing_key_id(why);
    (void)state.db->put_setting(missing_key_setting(community), key_id);
    self->send(state.bus, publish_atom::value, signal{archive_key_missing{community, key_id}});
    return fail(why);
  };
  archive_layout layout{state.archive_root, community};
  // The held set's index and, while a newer set arrives, its staged index
  // (archive_layout::fetching_index_file): an archive recorded mid-fetch is
  // in the latter until the set completes and it becomes `index`. Each is
  // read when first needed; none yet is not an error.
  using index_type = pb::WakuMessageArchiveIndex;
  std::optional<index_type> held_index, fetching_index;
  auto load = [&](const std::filesystem::path& file,
                  std::optional<index_type>& into) -> std::optional<error> {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
      return std::nullopt;
    auto read = read_index(file, keys.get());
    if (!read)
      return read.error();
    into = std::move(*read);
    return std::nullopt;
  };
  auto find_entry = [&](const std::string& id) -> result<const pb::WakuMessageArchiveIndexMetadata*> {
    auto in = [&](const std::optional<index_type>& index) -> const pb::WakuMessageArchiveIndexMetadata* {
      if (!index)
        return nullptr;
      auto found = index->archives().find(id);
      return found == index->archives().end() ? nullptr : &found->second;
    };
    if (!held_index)
      if (auto failed = load(layout.index_file(), held_index))
        return *failed;
    if (auto* e = in(held_index))
      return e;
    if (!fetching_index)
      if (auto failed = load(layout.fetching_index_file(), fetching_index))
        return *failed;
    if (auto* e = in(fetching_index))
      return e;
    // The set completed meanwhile: its staged index is now `index`.
    held_index.reset();
    if (auto failed = load(layout.index_file(), held_index))
      return *failed;
    if (auto* e = in(held_index))
      return e;
    return make_error(errc::not_found, "archive " + id + " is recorded but not in "
                                         + layout.index_file().string());
  };
  std::uint64_t stored = 0;
  // Pacing, when capped: a detached actor may sleep without stalling others.
  auto started = std::chrono::steady_clock::now();
  std::uint64_t written = 0;
  auto pace = [&](std::size_t batch_size) {
    written += batch_size;
    if (state.max_rate == 0)
      return;
    auto due = started + std::chrono::microseconds(written * 1'000'000 / state.max_rate);
    std::this_thread::sleep_until(due);
  };
  for (const auto& id : *pending) {
    auto entry = find_entry(id);
    if (!entry && entry.error().code == errc::missing_key)
      return missing_key(entry.error());
    if (!entry)
      return fail(entry.error());
    auto bytes = read_archive_bytes(layout.data_file(), **entry, keys.get());
    if (!bytes && bytes.error().code == errc::missing_key)
      return missing_key(bytes.error());
    if (!bytes)
      return fail(make_error(bytes.error().code, "archive " + id + ": " + bytes.error().message));
    auto archive = wire_archive(*bytes);
    if (!archive)
      return fail(make_error(archive.error().code, "archive " + id + ": " + archive.error().message));
    self->send(state.bus, publish_atom::value,
               signal{importing_history_archive_messages{community}});
    auto archive_started = std::chrono::steady_clock::now();
    auto imported = import_archive(*state.db, *key, id, *archive, state.batch,
                                   [&](const std::vector<std::string_view>& hashes) {
                                     observe(self, state.observer.observer,
                                             state.observer.node, community,
                                             message_observation::imported, hashes);
                                     pace(hashes.size());
                                   });
    if (!imported) {
      ++state.failed;
      state.last_error = community + ": archive " + id + ": " + imported.error().to_string();
      return fail(imported.error());
    }
    state.seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now()
                                                        - archive_started)
                            .count());
    auto& counts = state.counts[community];
    ++counts.archives;
    counts.messages += imported->inserted;
    counts.duplicates += imported->duplicates;
    stored += imported->inserted;
  }
  release_free_memory();
  return stored;
}

/// One import run, from a request or the retry timer. An I/O failure arms
/// the timer (a full disk frees up without anyone downloading again); a
/// success after failures says so, as the download's finish would have.
caf::expected<std::uint64_t> run_import(self_ptr self, const std::string& community) {
  auto& state = self->state;
  auto imported = import_pending(self, community);
  auto retry = state.retrying.find(community);
  if (imported) {
    if (retry != state.retrying.end()) {
      log_info("importer", community + ": import resumed after \"" + retry->second.reason
                             + "\": " + std::to_string(*imported) + " messages stored");
      state.retrying.erase(retry);
      self->send(state.bus, publish_atom::value,
                 signal{downloading_history_archives_finished{community}});
    }
    return imported;
  }
  auto why = from_caf_error(imported.error());
  if (!why || why->code != errc::io)
    return imported;
  auto& r = state.retrying[community];
  r.reason = why->message;
  if (!r.armed) {
    r.armed = true;
    r.delay = r.delay.count() == 0 ? state.retry_first : std::min(r.delay * 2, state.retry_max);
    log_warn("importer", community + ": import failed on I/O (" + why->message
                           + "); retrying in " + std::to_string(r.delay.count()) + " ms");
    self->delayed_send(self, r.delay, tick_atom::value, community);
  }
  return imported;
}

} // namespace

importer_actor::behavior_type importer(importer_actor::stateful_pointer<importer_state> self,
                                       std::filesystem::path archive_root,
                                       std::shared_ptr<store> db, signal_bus_actor bus,
                                       std::uint64_t max_rate, import_observer observer) {
  self->state.max_rate = max_rate;
  self->state.observer = std::move(observer);
  if (max_rate > 0)
    self->state.batch = std::max<std::size_t>(1, std::min<std::size_t>(self->state.batch, max_rate));
  self->state.archive_root = std::move(archive_root);
  self->state.db = std::move(db);
  self->state.bus = std::move(bus);
  return {
    [self](import_atom, const std::string& community) -> caf::result<std::uint64_t> {
      auto imported = run_import(self, community);
      if (!imported)
        return std::move(imported.error());
      return *imported;
    },
    [self](tick_atom, const std::string& community) {
      auto retry = self->state.retrying.find(community);
      if (retry == self->state.retrying.end())
        return;  // a request imported it meanwhile
      retry->second.armed = false;
      ++self->state.retries;
      (void)run_import(self, community);
    },
    [self](status_atom) {
      auto& state = self->state;
      component_status out;
      out.component = "importer";
      out.state = "idle";
      if (!state.waiting_for_keys.empty())
        out.state += ", " + std::to_string(state.waiting_for_keys.size())
                     + " communities waiting for a key";
      if (!state.retrying.empty())
        out.state += ", " + std::to_string(state.retrying.size())
                     + " communities waiting to retry their import (" +
                     state.retrying.begin()->second.reason + ")";
      if (!state.last_error.empty())
        out.detail("last_error", state.last_error);
      for (const auto& [community, c] : state.counts) {
        std::vector<std::string> label{"community", community};
        out.counter("annals_archives_imported_total", "Archives imported into the store",
                    double(c.archives), label)
          .counter("annals_messages_imported_total", "New messages stored by imports",
                   double(c.messages), label)
          .counter("annals_messages_import_duplicates_total",
                   "Imported messages the store held already", double(c.duplicates), label);
      }
      out.counter("annals_import_failures_total", "Imports that stopped on an error",
                  double(state.failed))
        .counter("annals_import_retries_total",
                 "Imports retried by themselves after an I/O error (disk full)",
                 double(state.retries))
        .gauge("annals_imports_waiting_to_retry",
               "Communities whose import waits to be retried after an I/O error",
               double(state.retrying.size()));
      out.histograms.push_back(state.seconds);
      return out;
    },
  };
}

} // namespace annals
