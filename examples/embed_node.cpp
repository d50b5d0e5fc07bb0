// Embedding an annals node in a host application's own CAF actor system.
//
//   embed_node [DATA_DIR]
//
// The host registers annals' types before its actor_system exists, spawns a
// node, subscribes its own actor to the node's signals, and shuts everything
// down with an exit message. It creates a community, lets a traffic
// generator post to its channels, and stops once the node has archived,
// seeded and announced them.
//
// It is built against an installed annals (examples/CMakeLists.txt:
// find_package(annals), annals::annals) and uses only its public headers.
#include <annals/node.hpp>
#include <annals/signals.hpp>
#include <annals/traffic.hpp>

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

namespace {

using namespace annals;
using namespace std::chrono_literals;

/// The host's configuration: its own options plus annals' message types and
/// error category (a process that only runs nodes can use
/// annals::node_system_config instead).
struct host_config : caf::actor_system_config {
  host_config() {
    register_types(*this);
    set("logger.verbosity", caf::atom("quiet"));
    set("scheduler.max-throughput", scheduler_max_throughput);  // see annals/node.hpp
  }
};

/// A host actor that receives every status-go signal the node emits.
signal_sink_actor::behavior_type host_listener(signal_sink_actor::pointer self,
                                               std::shared_ptr<std::atomic<bool>> announced) {
  return {[=](const signal& s) {
    caf::aout(self) << "host got " << to_json_line(s) << "\n";
    if (caf::holds_alternative<magnetlink_published>(s))
      *announced = true;
  }};
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && argv[1][0] == '-') {
    bool help = std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help";
    std::fprintf(help ? stdout : stderr,
                 "usage: embed_node [DATA_DIR]\n"
                 "Runs an annals node inside a host's CAF actor system until it has archived, "
                 "seeded and announced a community's messages (DATA_DIR: a temp dir).\n");
    return help ? 0 : 2;
  }
  char pattern[] = "/tmp/annals-embed-XXXXXX";
  std::filesystem::path data_dir = argc > 1 ? argv[1] : ::mkdtemp(pattern);

  host_config cfg;
  caf::actor_system sys{cfg};
  auto announced = std::make_shared<std::atomic<bool>>(false);

  node_config config;
  config.data_dir = data_dir;
  config.torrent.listen = "127.0.0.1:0";
  config.torrent.loopback = true;
  config.archives.interval = 2;  // seconds, for the example
  config.relay = spawn_inprocess_relay(sys);
  config.subscribers.push_back(sys.spawn(host_listener, announced));
  auto node = spawn_node(sys, config);
  if (!node) {
    std::cerr << "cannot start the node: " << sys.render(node.error()) << "\n";
    return 1;
  }

  // The community's key (any 32 random bytes; a real owner keeps its own).
  const std::string community_key =
    "5b2d5e8f1c9a4e7b3d6f0a2c8e4b1d7f9a3c5e0b2d4f6a8c1e3b5d7f9a0c2e4b";
  const std::vector<std::string> channels{"general", "dev"};
  caf::scoped_actor self{sys};
  int status = 0;
  self->request(*node, 10s, create_atom::value, community_spec{community_key, channels})
    .receive([](const std::string& id) { std::cout << "community " << id << "\n"; },
             [&](const caf::error& err) {
               std::cerr << "create failed: " << sys.render(err) << "\n";
               status = 1;
             });
  if (status == 0) {
    auto traffic = spawn_synthetic_traffic(sys, config.relay, community_key, channels,
                                           synthetic_traffic_options{200, 1000, 4, 100});
    if (!traffic) {
      std::cerr << "cannot post: " << sys.render(traffic.error()) << "\n";
      status = 1;
    }
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (status == 0 && !*announced && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);
    if (status == 0 && !*announced) {
      std::cerr << "no magnet link within 30 s\n";
      status = 1;
    }
  }
  // ~actor_system waits for every actor: a host stops what it spawned.
  self->send_exit(*node, caf::exit_reason::user_shutdown);
  self->send_exit(config.relay, caf::exit_reason::user_shutdown);
  if (argc <= 1)
    std::filesystem::remove_all(data_dir);
  std::cout << (status == 0 ? "clean shutdown\n" : "failed\n");
  return status;
}
