#include "net/p2p/multistream.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace annals::p2p {

std::string encode_multistream_message(std::string_view text) {
  assert(text.find('\n') == std::string_view::npos);
  auto out = encode_uvarint(text.size() + 1);
  out.append(text);
  out.push_back('\n');
  return out;
}

multistream_negotiator::multistream_negotiator() : reader_(max_multistream_message) {}

result<std::optional<std::string>> multistream_negotiator::next_message() {
  auto payload = reader_.next();
  if (!payload)
    return make_error(errc::malformed, "multistream: " + payload.error().message);
  if (!*payload)
    return std::optional<std::string>();
  std::string& text = **payload;
  if (text.empty() || text.back() != '\n')
    return make_error(errc::malformed, "multistream: message does not end with a newline");
  text.pop_back();
  return std::optional<std::string>(std::move(text));
}

result<void> multistream_negotiator::check_header(const std::string& message) {
  if (message != multistream_protocol)
    return make_error(errc::unsupported, "multistream: peer header is \"" + message +
                                             "\", expected " + std::string(multistream_protocol));
  header_seen_ = true;
  return ok_result();
}

result<std::string> multistream_negotiator::feed(std::string_view bytes) {
  if (done())
    return make_error(errc::invalid_argument, "multistream: negotiation already finished");
  reader_.feed(bytes);
  std::string reply;
  while (!done()) {
    auto message = next_message();
    if (!message)
      return message.error();
    if (!*message)
      break;
    if (!header_seen_) {
      if (auto checked = check_header(**message); !checked)
        return checked.error();
      continue;
    }
    if (auto handled = on_message(std::move(**message), reply); !handled)
      return handled.error();
  }
  return reply;
}

void multistream_negotiator::finish(std::string protocol) {
  protocol_ = std::move(protocol);
  done_ = true;
}

multistream_dialer::multistream_dialer(std::vector<std::string> protocols)
    : protocols_(std::move(protocols)) {
  assert(!protocols_.empty());
}

std::string multistream_dialer::start() const {
  return encode_multistream_message(multistream_protocol) +
         encode_multistream_message(protocols_.front());
}

result<void> multistream_dialer::on_message(std::string message, std::string& reply) {
  const auto& proposal = protocols_[proposal_];
  if (message == proposal) {
    finish(proposal);
  } else if (message == multistream_na) {
    if (++proposal_ == protocols_.size())
      return make_error(errc::unsupported, "multistream: listener refused every proposal");
    reply += encode_multistream_message(protocols_[proposal_]);
  } else {
    return make_error(errc::malformed, "multistream: listener answered \"" + message +
                                           "\" to proposal " + proposal);
  }
  return ok_result();
}

multistream_listener::multistream_listener(std::vector<std::string> supported)
    : supported_(std::move(supported)) {}

std::string multistream_listener::start() const {
  return encode_multistream_message(multistream_protocol);
}

result<void> multistream_listener::on_message(std::string message, std::string& reply) {
  // "ls" and anything unknown get "na"; the dialer then tries its next
  // proposal or gives up.
  if (std::find(supported_.begin(), supported_.end(), message) != supported_.end()) {
    reply += encode_multistream_message(message);
    finish(std::move(message));
  } else {
    reply += encode_multistream_message(multistream_na);
  }
  return ok_result();
}

} // namespace annals::p2p
