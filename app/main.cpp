#include "app/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"annals: keeps a Waku community's message history alive as status-go "
               "compatible BitTorrent archives"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       std::string("annals ") + ANNALS_VERSION + " (" + ANNALS_REVISION + ")");
  annals::app::add_keygen_command(app);
  annals::app::add_hrkey_commands(app);
  annals::app::add_archive_commands(app);
  annals::app::add_demo_command(app);
  annals::app::add_magnetlink_commands(app);
  annals::app::add_relay_commands(app);
  annals::app::add_run_command(app);
  annals::app::add_store_commands(app);
  annals::app::add_bench_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    // Our commands end here with their message; CLI11's own errors (usage)
    // go through exit(), which prints help where it helps.
    if (e.what() && *e.what())
      std::cerr << e.what() << "\n";
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : annals::app::exit_bad_input;
  }
  return 0;
}
