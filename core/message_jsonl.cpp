#include "core/message_jsonl.hpp"

#include <nlohmann/json.hpp>

namespace annals {

namespace {

using json = nlohmann::json;

result<std::string> hex_field(const json& object, const char* name, bool required) {
  auto it = object.find(name);
  if (it == object.end()) {
    if (required)
      return make_error(errc::malformed, std::string("missing \"") + name + "\"");
    return std::string{};
  }
  if (!it->is_string())
    return make_error(errc::malformed, std::string("\"") + name + "\" must be a hex string");
  auto bytes = from_hex(it->get<std::string>());
  if (!bytes)
    return make_error(errc::malformed, std::string("\"") + name + "\" is not valid hex");
  return *bytes;
}

} // namespace

result<archive_message> parse_message_json(std::string_view line) {
  auto object = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object())
    return make_error(errc::malformed, "not a JSON object");
  archive_message message;

  auto ts = object.find("timestamp");
  if (ts == object.end() || !ts->is_number_unsigned())
    return make_error(errc::malformed, "\"timestamp\" must be unix seconds (unsigned integer)");
  message.timestamp = ts->get<std::uint64_t>();

  auto topic = object.find("topic");
  if (topic == object.end() || !topic->is_string())
    return make_error(errc::malformed, "\"topic\" must be a string 0x<8 hex>");
  auto parsed_topic = parse_topic_hex(topic->get<std::string>());
  if (!parsed_topic)
    return parsed_topic.error();
  message.topic = *parsed_topic;

  auto payload = object.find("payload");
  if (payload == object.end() || !payload->is_string())
    return make_error(errc::malformed, "\"payload\" must be a base64 string");
  auto payload_bytes = from_base64(payload->get<std::string>());
  if (!payload_bytes)
    return make_error(errc::malformed, "\"payload\" is not valid base64");
  message.payload = std::move(*payload_bytes);

  auto sig = hex_field(object, "sig", true);
  if (!sig)
    return sig.error();
  message.sig = std::move(*sig);
  auto hash = hex_field(object, "hash", true);
  if (!hash)
    return hash.error();
  if (hash->empty())
    return make_error(errc::malformed, "\"hash\" is empty; it is the message's dedup key");
  message.hash = std::move(*hash);

  if (auto third = object.find("third_party_id"); third != object.end()) {
    if (!third->is_string())
      return make_error(errc::malformed, "\"third_party_id\" must be a string");
    message.third_party_id = third->get<std::string>();
  }
  return message;
}

std::string message_to_json(const archive_message& message) {
  json object = {
    {"timestamp", message.timestamp},
    {"topic", topic_hex(message.topic)},
    {"payload", to_base64(message.payload)},
    {"sig", to_hex0x(message.sig)},
    {"hash", to_hex0x(message.hash)},
  };
  if (!message.third_party_id.empty())
    object["third_party_id"] = message.third_party_id;
  return object.dump();
}

result<std::vector<archive_message>> read_messages_jsonl(std::istream& in) {
  return read_messages_jsonl(in, {});
}

result<std::vector<archive_message>> read_messages_jsonl(std::istream& in,
                                                         const jsonl_progress& progress) {
  std::vector<archive_message> out;
  std::string line;
  std::size_t number = 0;
  std::uint64_t bytes = 0;
  while (std::getline(in, line)) {
    ++number;
    bytes += line.size() + 1;
    if (progress && number % 4096 == 0)
      progress(bytes, out.size());
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    auto message = parse_message_json(line);
    if (!message)
      return make_error(message.error().code,
                        "line " + std::to_string(number) + ": " + message.error().message);
    out.push_back(std::move(*message));
  }
  if (in.bad())
    return make_error(errc::io, "read failed after line " + std::to_string(number));
  if (progress)
    progress(bytes, out.size());
  return out;
}

} // namespace annals
