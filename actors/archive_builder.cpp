#include "actors/archive_builder.hpp"

#include "actors/errors.hpp"
#include "actors/memory.hpp"

#include "core/archive_builder.hpp"
#include "net/torrent_file.hpp"
#include "storage/community_keys.hpp"
#include "storage/owner_build.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <ctime>

namespace annals {

namespace {

caf::result<build_outcome>
build(archive_builder_actor::stateful_pointer<archive_builder_state> self, const build_job& job) {
      auto& state = self->state;
      auto community = public_key::from_community_id(job.community_id);
      if (!community)
        return to_caf_error(community.error());
      auto record = state.db->get_community(*community);
      if (!record)
        return to_caf_error(record.error());
      if (!*record)
        return to_caf_error(errc::not_found, "unknown community " + job.community_id);

      self->send(state.bus, publish_atom::value, signal{creating_history_archives{job.community_id}});
      archive_layout layout{state.config.archive_root, job.community_id};
      owner_build_hooks hooks;
      hooks.write_torrent = [&](const data_piece_hashes* appended) -> result<void> {
        torrent_options options{state.config.trackers, state.config.created_by,
                                static_cast<std::int64_t>(std::time(nullptr))};
        auto torrent = write_archive_torrent(layout, options, appended);
        if (!torrent)
          return torrent.error();
        return {};
      };
      hooks.collect_hashes = static_cast<bool>(state.config.observer);
      owner_build_request request{job.to, job.partition, channel_topics(**record), nullptr};
      auto cipher = community_cipher(**record, state.config.archive_root);
      if (!cipher)
        return to_caf_error(cipher.error(), "archive builder");
      request.cipher = std::move(*cipher);
      auto built = build_owner_archives(layout, *state.db, *community, request, hooks);
      if (!built)
        return to_caf_error(built.error());

      const auto& report = built->report;
      build_outcome outcome{job.community_id,       built->from,     built->to,
                            report.archives.size(), report.messages, report.dropped.size(),
                            false};
      if (!report.archives.empty()) {
        self->send(state.bus, publish_atom::value,
                   signal{history_archives_created{job.community_id, built->from, built->to}});
        if (state.config.observer && !built->hashes.empty())
          self->send(state.config.observer,
                     message_observation{state.config.node_name, job.community_id,
                                         message_observation::archived, std::move(built->hashes)});
      } else {
        self->send(state.bus, publish_atom::value,
                   signal{no_history_archives_created{job.community_id, built->from, built->to}});
      }
      std::error_code ec;
      outcome.torrent_exists = std::filesystem::exists(layout.torrent_file(), ec);
      release_free_memory();
      return outcome;
}

} // namespace

archive_builder_actor::behavior_type
archive_builder(archive_builder_actor::stateful_pointer<archive_builder_state> self,
                archive_builder_config config, std::shared_ptr<store> db, signal_bus_actor bus) {
  self->state.config = std::move(config);
  self->state.db = std::move(db);
  self->state.bus = std::move(bus);
  return {
    [self](build_atom, const build_job& job) -> caf::result<build_outcome> {
      auto started = std::chrono::steady_clock::now();
      auto outcome = build(self, job);
      auto& state = self->state;
      state.seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (outcome.flag == caf::rt_error) {
        ++state.failed;
        state.last_error = self->system().render(outcome.err);
      } else {
        ++state.built;
      }
      return outcome;
    },
    [self](status_atom) {
      auto& state = self->state;
      component_status out;
      out.component = "builder";
      out.state = state.last_error.empty() ? "idle" : "idle; last build failed";
      if (!state.last_error.empty())
        out.detail("last_error", state.last_error);
      out.counter("annals_builder_runs_total", "Builds the builder finished",
                  static_cast<double>(state.built))
        .counter("annals_builder_failures_total", "Builds that failed (disk, store, keys)",
                 static_cast<double>(state.failed));
      out.histograms.push_back(state.seconds);
      return out;
    },
  };
}

} // namespace annals
