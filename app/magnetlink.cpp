// `annals magnetlink encode|decode`: the signed ApplicationMetadataMessage that
// carries a community's magnet link (the L1 of core/status_envelope.hpp), to
// make one by hand or check one taken from a status-go database or log.
#include "app/commands.hpp"
#include "app/json_text.hpp"
#include "core/identity.hpp"
#include "core/status_envelope.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>

namespace annals::app {

namespace {

std::uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
    duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

struct encode_options {
  std::string key_file;
  std::string magnet;
  std::uint64_t clock = 0;
  bool clock_given = false;
};

void run_encode(const encode_options& options) {
  auto key = take(private_key::load(options.key_file));
  magnetlink link{options.clock_given ? options.clock : now_ms(), options.magnet};
  auto bytes = take(encode_magnetlink_message(key, link), "--magnet");
  std::cout << to_hex(bytes) << "\n";
}

void run_decode(const std::string& hex, const std::string& community) {
  auto bytes = from_hex(hex);
  if (!bytes)
    fail(make_error(errc::malformed, "HEX: not hexadecimal"), exit_bad_input);
  std::optional<public_key> expected;
  if (!community.empty())
    expected = take(public_key::from_community_id(community), "--community");
  auto decoded = decode_magnetlink_message(*bytes);
  if (!decoded) {
    // Only a signature that recovers no key is a failed verification; any
    // other fault (another message type included) means the input is wrong.
    bool bad_signature = decoded.error().code == errc::verification_failed;
    fail(decoded.error(), bad_signature ? exit_failure : exit_bad_input);
  }
  const auto& message = *decoded;
  // A signature over altered bytes usually still recovers some key, just not
  // the community's; only comparing the signer catches that.
  if (expected && message.signer != *expected)
    fail(make_error(errc::verification_failed, "signed by " + message.signer.community_id()
                                                 + ", not " + expected->community_id()));
  nlohmann::ordered_json out{{"community_id", message.signer.community_id()},
                             {"clock", message.link.clock},
                             {"magnet_uri", message.link.magnet_uri},
                             {"message_id", to_hex0x(message.message_id)}};
  std::cout << json_text(out) << "\n";
}

} // namespace

void add_magnetlink_commands(CLI::App& app) {
  auto* magnetlink = app.add_subcommand(
    "magnetlink", "Encode and verify status-go's signed magnet-link message");
  magnetlink->require_subcommand(1);

  auto e = std::make_shared<encode_options>();
  auto* encode = magnetlink->add_subcommand(
    "encode", "Print the hex of a magnet link's ApplicationMetadataMessage, signed with the "
              "community key");
  encode->add_option("--community-key", e->key_file, "Community private key file")->required();
  encode->add_option("--magnet", e->magnet, "Magnet URI")->required();
  auto* clock = encode->add_option("--clock", e->clock, "Message clock, unix ms (default: now)");
  encode->callback([e, clock] {
    e->clock_given = clock->count() > 0;
    run_encode(*e);
  });

  auto hex = std::make_shared<std::string>();
  auto community = std::make_shared<std::string>();
  auto* decode = magnetlink->add_subcommand(
    "decode", "Verify a magnet-link message given in hex and print it as JSON "
              "(exit 1: bad signature, 2: does not parse)");
  decode->add_option("HEX", *hex, "ApplicationMetadataMessage bytes in hex")->required();
  decode->add_option("--community", *community,
                     "Community ID the message must be signed by (exit 1 otherwise)");
  decode->callback([hex, community] { run_decode(*hex, *community); });
}

} // namespace annals::app
