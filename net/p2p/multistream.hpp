// multistream-select 1.0: agrees on the protocol that runs next on a
// connection or stream. Every message is uvarint(len) || text || '\n', with
// len counting the '\n'. Both sides send the header; the dialer proposes,
// the listener echoes the proposal or answers "na".
#pragma once

#include "core/result.hpp"
#include "net/p2p/varint.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace annals::p2p {

inline constexpr std::string_view multistream_protocol = "/multistream/1.0.0";
/// The listener's answer to a protocol it does not support.
inline constexpr std::string_view multistream_na = "na";
/// Protocol ids are short paths; a longer message is a broken or hostile peer.
inline constexpr std::size_t max_multistream_message = 1024;

/// uvarint(text.size() + 1) || text || '\n'. `text` must not contain '\n'.
std::string encode_multistream_message(std::string_view text);

/// The parts both roles share: the read loop, the header check and the
/// outcome. Each feed() returns the bytes to write to the peer (maybe none).
class multistream_negotiator {
public:
  virtual ~multistream_negotiator() = default;
  bool done() const { return done_; }
  /// The agreed protocol, once done().
  const std::string& protocol() const { return protocol_; }
  /// Bytes that arrived after the final negotiation message: the first data
  /// of the agreed protocol, which the peer may pipeline. Call once done().
  std::string take_leftover() { return reader_.take_buffered(); }
  /// Consumes the peer's bytes; returns what to write back (maybe nothing).
  /// Stops at the final answer: whatever follows belongs to the next layer.
  result<std::string> feed(std::string_view bytes);

protected:
  multistream_negotiator();
  /// Handles one message after the peer's header, appending any answer.
  virtual result<void> on_message(std::string message, std::string& reply) = 0;
  /// The next complete message without its '\n', or nullopt for "need more".
  result<std::optional<std::string>> next_message();
  /// Checks the peer's header, the first message in each direction.
  result<void> check_header(const std::string& message);
  void finish(std::string protocol);

  frame_reader reader_;
  bool header_seen_ = false;

private:
  bool done_ = false;
  std::string protocol_;
};

/// The side that opened the connection or stream.
class multistream_dialer : public multistream_negotiator {
public:
  /// `protocols` in order of preference; must not be empty.
  explicit multistream_dialer(std::vector<std::string> protocols);

  /// The header and the first proposal in one write: waiting for the
  /// listener's header first would cost a round trip for nothing.
  std::string start() const;

private:
  /// Fails when the listener refuses every proposal (unsupported) or says
  /// something that is not an answer.
  result<void> on_message(std::string message, std::string& reply) override;

  std::vector<std::string> protocols_;
  std::size_t proposal_ = 0;  // index of the proposal awaiting an answer
};

/// The side that accepted the connection or stream.
class multistream_listener : public multistream_negotiator {
public:
  explicit multistream_listener(std::vector<std::string> supported);

  /// The header, which must go out without waiting for the dialer's
  /// (js-libp2p waits for it before reading our answers).
  std::string start() const;

private:
  /// Answers each proposal: an echo when supported, else "na".
  result<void> on_message(std::string message, std::string& reply) override;

  std::vector<std::string> supported_;
};

} // namespace annals::p2p
