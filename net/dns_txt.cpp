#include "net/dns_txt.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <cstring>
#include <memory>

namespace annals {

namespace {

result<sockaddr_in> parse_server(const std::string& server) {
  auto colon = server.rfind(':');
  sockaddr_in out{};
  out.sin_family = AF_INET;
  std::string ip = colon == std::string::npos ? server : server.substr(0, colon);
  unsigned long port = 53;
  if (colon != std::string::npos) {
    auto digits = server.substr(colon + 1);
    if (digits.empty() || digits.size() > 5
        || digits.find_first_not_of("0123456789") != std::string::npos)
      return make_error(errc::invalid_argument, "\"" + server + "\": the port is not a number");
    port = std::stoul(digits);
  }
  if (port == 0 || port > 65535)
    return make_error(errc::invalid_argument, "\"" + server + "\": the port must be 1..65535");
  if (inet_pton(AF_INET, ip.c_str(), &out.sin_addr) != 1)
    return make_error(errc::invalid_argument,
                      "\"" + server + "\" is not IPv4:PORT (an IP literal, e.g. 10.0.0.53:53)");
  out.sin_port = htons(static_cast<std::uint16_t>(port));
  return out;
}

std::string h_error_text(int code) {
  switch (code) {
  case HOST_NOT_FOUND:
    return "no such name";
  case TRY_AGAIN:
    return "no answer (timeout or server failure)";
  case NO_RECOVERY:
    return "the server refused or failed";
  default:
    return "resolver error " + std::to_string(code);
  }
}

} // namespace

result<void> check_dns_server(const std::string& server) {
  if (auto parsed = parse_server(server); !parsed)
    return parsed.error();
  return ok_result();
}

result<std::vector<std::string>> resolve_txt(const std::string& name,
                                             const dns_resolver_options& options) {
  // A state of our own per call: res_nquery is then safe on any thread.
  auto state = std::make_unique<struct __res_state>();
  std::memset(state.get(), 0, sizeof(struct __res_state));
  if (res_ninit(state.get()) != 0)
    return make_error(errc::io, "dns: the resolver could not be set up (res_ninit)");
  struct closer {
    res_state s;
    ~closer() { res_nclose(s); }
  } close_at_end{state.get()};
  if (!options.server.empty()) {
    auto server = parse_server(options.server);
    if (!server)
      return server.error();
    state->nsaddr_list[0] = *server;
    state->nscount = 1;
  }
  auto seconds = (options.timeout.count() + 999) / 1000;
  state->retrans = static_cast<int>(seconds < 1 ? 1 : seconds);
  state->retry = options.attempts < 1 ? 1 : options.attempts;
  std::vector<unsigned char> answer(65535);
  int size = res_nquery(state.get(), name.c_str(), ns_c_in, ns_t_txt, answer.data(),
                        static_cast<int>(answer.size()));
  if (size < 0) {
    auto code = state->res_h_errno;
    if (code == NO_DATA)
      return std::vector<std::string>{};
    return make_error(code == HOST_NOT_FOUND ? errc::not_found : errc::io,
                      "dns: " + name + ": " + h_error_text(code));
  }
  ns_msg message;
  if (ns_initparse(answer.data(), size, &message) != 0)
    return make_error(errc::malformed, "dns: " + name + ": the answer does not parse");
  std::vector<std::string> out;
  for (int i = 0; i < ns_msg_count(message, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&message, ns_s_an, i, &rr) != 0)
      return make_error(errc::malformed, "dns: " + name + ": an answer record does not parse");
    if (ns_rr_type(rr) != ns_t_txt)
      continue;  // a CNAME on the way
    const unsigned char* data = ns_rr_rdata(rr);
    std::size_t length = ns_rr_rdlen(rr);
    std::string text;
    for (std::size_t at = 0; at < length;) {
      std::size_t piece = data[at];
      if (at + 1 + piece > length)
        return make_error(errc::malformed, "dns: " + name + ": a TXT string overruns its record");
      text.append(reinterpret_cast<const char*>(data + at + 1), piece);
      at += 1 + piece;
    }
    out.push_back(std::move(text));
  }
  return out;
}

} // namespace annals
