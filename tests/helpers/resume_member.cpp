// A member node in its own process, for the crash test: it starts on
// DATA_DIR (whose store lists downloaded, unimported archives), prints
// "started", and prints "imported N" and exits once every archive of
// COMMUNITY_ID is imported. The test kills it mid-import and runs it again.
#include "actors/node.hpp"

#include <caf/all.hpp>

#include <iostream>
#include <thread>

int main(int argc, char** argv) {
  using namespace annals;
  using namespace std::chrono_literals;
  if (argc != 3) {
    std::cerr << "usage: resume_member DATA_DIR COMMUNITY_ID\n";
    return 2;
  }
  annals::node_system_config cfg;
  caf::actor_system sys{cfg};
  node_config node_cfg;
  node_cfg.data_dir = argv[1];
  node_cfg.torrent.listen = "127.0.0.1:0";
  node_cfg.torrent.loopback = true;
  auto node = spawn_node(sys, node_cfg);
  if (!node) {
    std::cerr << sys.render(node.error()) << "\n";
    return 1;
  }
  std::cout << "started" << std::endl;
  caf::scoped_actor self{sys};
  auto status_now = [&] {
    community_status s;
    self->request(*node, 10s, status_atom::value, std::string(argv[2]))
      .receive([&](const community_status& r) { s = r; }, [](const caf::error&) {});
    return s;
  };
  int status = 1;
  for (auto deadline = std::chrono::steady_clock::now() + 120s;
       std::chrono::steady_clock::now() < deadline;) {
    if (auto s = status_now(); s.archives > 0 && s.imported == s.archives) {
      // Counted after the flags: the count of the same status may predate
      // the last archive's batch.
      std::cout << "imported " << status_now().messages << std::endl;
      status = 0;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  self->send_exit(*node, caf::exit_reason::user_shutdown);
  return status;
}
