#include "app/commands.hpp"
#include "core/identity.hpp"

namespace annals::app {

void add_keygen_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("keygen", "Create a community private key (mode 0600) and "
                                           "print its community ID");
  auto out = std::make_shared<std::string>();
  cmd->add_option("--out", *out, "Key file to create (never overwritten)")->required();
  cmd->callback([out] {
    auto key = private_key::generate();
    take(key.save(*out));
    std::cout << key.public_key().community_id() << "\n";
  });
}

} // namespace annals::app
