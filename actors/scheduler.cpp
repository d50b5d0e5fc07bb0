#include "actors/scheduler.hpp"

#include "core/archive_format.hpp"
#include <annals/log.hpp>
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <functional>

namespace annals {

unix_clock system_unix_clock() {
  return [] {
    return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch())
        .count());
  };
}

namespace {

using self_ptr = scheduler_actor::stateful_pointer<scheduler_state>;

void schedule_tick(self_ptr self, const std::string& community, std::uint64_t delay) {
  auto& task = self->state.tasks[community];
  self->delayed_send(self, std::chrono::seconds(delay), tick_atom::value, community,
                     task.generation);
}

/// What the scheduler decides on, read on the storage thread.
struct community_view {
  /// Where the next build's windows start: the last archive's end, else the
  /// oldest message waiting to be archived; none when there is nothing.
  std::optional<std::uint64_t> start;
  std::optional<std::uint64_t> oldest_queued;  // the oldest stored message no build took
  bool interrupted = false;     // a build a crash interrupted (index or torrent not final)
  bool torrent_exists = false;
};

community_view read_view(store& db, const public_key& community, const archive_layout& layout) {
  community_view out;
  if (auto queue = db.unarchived(community))
    if (auto oldest = (*queue)->oldest())
      out.oldest_queued = *oldest;
  auto info = db.get_archive_info(community);
  out.start = info && info->last_archive_end > 0 ? std::optional(info->last_archive_end)
                                                 : out.oldest_queued;
  auto marker = db.pending_build_commit(community);
  std::error_code ec;
  out.interrupted = (marker && *marker) || std::filesystem::exists(layout.staged_index_file(), ec);
  out.torrent_exists = std::filesystem::exists(layout.torrent_file(), ec);
  return out;
}

/// Reads the community's view off the scheduler, then `then(view)` here.
template <class Then>
void with_view(self_ptr self, const std::string& community, Then then) {
  auto key = public_key::from_community_id(community);
  if (!key) {
    log_error("scheduler", key.error().to_string());
    return;
  }
  off_scheduler(self, self->state.config.io,
                [db = self->state.db, key = *key,
                 layout = archive_layout{self->state.config.archive_root, community}] {
                  return read_view(*db, key, layout);
                },
                std::move(then));
}

/// Seeds the community's torrent; `done` runs once the distribution backend answered.
void seed(self_ptr self, const std::string& community, std::function<void()> done = [] {}) {
  self->request(self->state.distribution, caf::infinite, seed_atom::value, community)
    .then(
      [self, community, done](const std::string& magnet) {
        // Straight to the gate: the signal bus is for observers.
        if (self->state.config.gate)
          self->send(self->state.config.gate, seed_atom::value, community, magnet);
        done();
      },
      [self, community, done](const caf::error& err) {
        ++self->state.seeds_failed;
        self->state.last_error = "seeding " + community + ": " + self->system().render(err);
        log_error("scheduler", self->state.last_error);
        done();
      });
}

/// status-go's CreateAndSeedHistoryArchive up to `to` (from the last end
/// date, late messages included).
void build_and_seed(self_ptr self, const std::string& community, std::uint64_t to) {
  auto& task = self->state.tasks[community];
  if (task.building)
    return;
  task.building = true;
  auto generation = task.generation;
  build_job job{community, to, self->state.config.interval};
  auto asked = std::chrono::steady_clock::now();
  auto elapsed = [asked] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  };
  self->request(self->state.builder, caf::infinite, build_atom::value, job)
    .then(
      [self, community, generation, elapsed](const build_outcome& outcome) {
        self->state.build_seconds.observe(elapsed());
        auto& counts = self->state.counts[community];
        ++counts.builds;
        counts.archives += outcome.archives;
        counts.messages += outcome.messages;
        counts.dropped += outcome.dropped;
        auto it = self->state.tasks.find(community);
        if (it == self->state.tasks.end() || it->second.generation != generation)
          return;  // stopped while building: do not seed
        if (!outcome.torrent_exists) {
          it->second.building = false;
          return;
        }
        // The next build waits until the distribution backend has read this torrent and
        // its files: appending to `data` meanwhile would fail its check.
        seed(self, community, [self, community, generation] {
          auto task = self->state.tasks.find(community);
          if (task != self->state.tasks.end() && task->second.generation == generation)
            task->second.building = false;
        });
      },
      [self, community, generation, elapsed](const caf::error& err) {
        self->state.build_seconds.observe(elapsed());
        auto it = self->state.tasks.find(community);
        if (it != self->state.tasks.end() && it->second.generation == generation)
          it->second.building = false;
        ++self->state.builds_failed;
        self->state.last_error = "building archives of " + community + ": "
                                 + self->system().render(err);
        log_error("scheduler", self->state.last_error);
      });
}

void start_task(self_ptr self, const std::string& community) {
  auto& task = self->state.tasks[community];
  task.generation = ++self->state.generations;
  auto generation = task.generation;
  with_view(self, community, [self, community, generation](const community_view& view) {
    auto& state = self->state;
    auto it = state.tasks.find(community);
    if (it == state.tasks.end() || it->second.generation != generation)
      return;  // stopped meanwhile
    const auto interval = state.config.interval;
    const auto now = state.config.now();
    if (!view.start) {
      schedule_tick(self, community, interval);
      return;
    }
    auto elapsed = now > *view.start ? now - *view.start : 0;
    if (elapsed >= interval) {
      // The build seeds its result; seeding the stale torrent first would
      // announce a link that is replaced moments later (status-go sends both).
      build_and_seed(self, community, now - state.config.settle);
      schedule_tick(self, community, interval);
    } else {
      if (view.interrupted) {
        // Finish it before seeding: the torrent on disk may predate it. A
        // build up to the last end date adds only late messages, if any.
        build_and_seed(self, community, *view.start);
      } else if (view.torrent_exists) {
        seed(self, community);
      }
      schedule_tick(self, community, interval - elapsed);
    }
  });
}

} // namespace

scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self, scheduler_config config,
          std::shared_ptr<store> db, archive_builder_actor builder,
          archive_distribution_actor distribution) {
  self->state.config = std::move(config);
  self->state.db = std::move(db);
  self->state.builder = std::move(builder);
  self->state.distribution = std::move(distribution);
  return {
    [self](start_atom, const std::string& community) {
      if (self->state.tasks.count(community))
        return;  // status-go refuses a second interval for a community too
      start_task(self, community);
    },
    [self](stop_atom, const std::string& community) {
      if (self->state.tasks.erase(community) > 0)
        self->send(self->state.distribution, unseed_atom::value, community);
    },
    [self](tick_atom, const std::string& community, std::uint64_t generation) {
      auto it = self->state.tasks.find(community);
      if (it == self->state.tasks.end() || it->second.generation != generation)
        return;  // a timer of a stopped task
      schedule_tick(self, community, self->state.config.interval);
      auto end = self->state.config.now() - self->state.config.settle;
      with_view(self, community, [self, community, generation, end](const community_view& view) {
        auto it = self->state.tasks.find(community);
        if (it == self->state.tasks.end() || it->second.generation != generation)
          return;
        // Late messages (older than the last end date) are built even when
        // no new window is due, so nothing stored waits for a window that
        // passed.
        bool late_due = view.oldest_queued && *view.oldest_queued < end;
        if (view.start && (*view.start < end || late_due))
          build_and_seed(self, community, std::max(*view.start, end));
      });
    },
    [self](status_atom) {
      auto& st = self->state;
      component_status out;
      out.component = "scheduler";
      out.state = std::to_string(st.tasks.size()) + " archive tasks";
      if (!st.last_error.empty())
        out.detail("last_error", st.last_error);
      for (const auto& [community, task] : st.tasks)
        out.detail("task", community);
      out.gauge("annals_archive_tasks", "Owned communities with a running archive task",
                static_cast<double>(st.tasks.size()));
      for (const auto& [community, c] : st.counts) {
        std::vector<std::string> label{"community", community};
        out.counter("annals_builds_total", "Archive builds finished", double(c.builds), label)
          .counter("annals_archives_built_total", "Archives built", double(c.archives), label)
          .counter("annals_messages_archived_total", "Messages put in archives",
                   double(c.messages), label)
          .counter("annals_messages_over_cap_total",
                   "Messages left out of an archive over the 30 MB cap", double(c.dropped),
                   label);
      }
      out.counter("annals_builds_failed_total", "Archive builds that failed",
                  double(st.builds_failed))
        .counter("annals_seeds_failed_total", "Seed requests the distribution refused",
                 double(st.seeds_failed));
      out.histograms.push_back(st.build_seconds);
      return out;
    },
  };
}

} // namespace annals
