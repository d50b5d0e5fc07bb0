// The offline import format of `annals archive build`: one JSON object a line,
// {"timestamp": unix_s, "topic": "0x<8 hex>", "payload": base64, "sig": hex,
//  "hash": hex, "third_party_id"?: string}.
#pragma once

#include "core/archive_format.hpp"

#include <functional>
#include <istream>

namespace annals {

/// Parses one line; the error names the field that is wrong.
result<archive_message> parse_message_json(std::string_view line);
std::string message_to_json(const archive_message& message);

/// Reads a whole JSONL stream; blank lines are skipped, the first bad line
/// fails the read with its line number.
result<std::vector<archive_message>> read_messages_jsonl(std::istream& in);
/// Told the bytes read and messages parsed so far, every few thousand lines
/// and once at the end.
using jsonl_progress = std::function<void(std::uint64_t bytes, std::size_t messages)>;
result<std::vector<archive_message>> read_messages_jsonl(std::istream& in,
                                                         const jsonl_progress& progress);

} // namespace annals
