#include "actors/storage_io.hpp"

#include <caf/all.hpp>

namespace annals {

storage_io_actor::behavior_type storage_io(storage_io_actor::pointer) {
  return {
    [](storage_job& job) {
      job.run();
      return true;
    },
  };
}

} // namespace annals
