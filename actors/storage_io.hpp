// Storage work off the cooperative scheduler. CAF runs event-based actors on
// a few worker threads (two on a small machine): a RocksDB write stall, a
// compaction or a slow disk inside one handler would stop every other actor
// of the node, the relay and the gate included. So an actor never touches
// the store or a file in a handler: it hands the work to the node's storage
// I/O actor (detached: its own thread) and carries on when the answer comes
// back, on its own thread, where its state is safe to touch.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace annals {

/// One piece of storage work. It never leaves the process, so CAF need not
/// serialize it.
struct storage_job {
  std::function<void()> run;
};

} // namespace annals

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::storage_job)

namespace annals {

using storage_io_actor = caf::typed_actor<
  // Runs the job; answers once it is done.
  caf::replies_to<storage_job>::with<bool>>;

/// The node's storage thread: jobs run one at a time, in arrival order, so
/// the writes one actor hands over keep their order.
storage_io_actor::behavior_type storage_io(storage_io_actor::pointer self);

/// Runs `work()` on `io` and then `then(result)` in `self`. Work that
/// returns nothing calls `then()`. Without an I/O actor (a default handle:
/// tests on CAF's deterministic coordinator that want it in line) both run
/// now. If `io` is gone (the node is stopping) `then` never runs.
template <class Self, class Work, class Then>
void off_scheduler(Self* self, const storage_io_actor& io, Work work, Then then) {
  using result_type = std::invoke_result_t<Work&>;
  if (!io) {
    if constexpr (std::is_void_v<result_type>) {
      work();
      then();
    } else {
      then(work());
    }
    return;
  }
  if constexpr (std::is_void_v<result_type>) {
    self->request(io, caf::infinite, storage_job{std::move(work)})
      .then([then = std::move(then)](bool) mutable { then(); }, [](const caf::error&) {});
  } else {
    auto out = std::make_shared<std::optional<result_type>>();
    self
      ->request(io, caf::infinite,
                storage_job{[work = std::move(work), out]() mutable { out->emplace(work()); }})
      .then([out, then = std::move(then)](bool) mutable { then(std::move(**out)); },
            [](const caf::error&) {});
  }
}

/// Work whose outcome nobody waits for (a write whose failure is logged by
/// the work itself); still in order with the other jobs.
template <class Work>
void off_scheduler(const storage_io_actor& io, Work work) {
  if (!io) {
    work();
    return;
  }
  caf::anon_send(io, storage_job{std::move(work)});
}

} // namespace annals
