// `annals store query`: asks one Waku store peer (13/WAKU2-STORE v3) and
// prints what it answers, page after page, one JSON line per message.
#include "app/commands.hpp"
#include "app/json_text.hpp"
#include "core/hex.hpp"
#include "core/store_query.hpp"
#include "net/p2p/host.hpp"
#include "net/p2p/multiaddr.hpp"
#include "proto/waku_message.pb.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <thread>

namespace annals::app {

namespace {

using namespace std::chrono_literals;

struct query_options {
  std::string peer;
  std::string pubsub_topic;
  std::vector<std::string> content_topics;
  std::optional<std::int64_t> start, end;
  std::vector<std::string> hashes;
  std::uint64_t page_size = 20;
  std::uint64_t limit = 0;  // messages in all; 0 = every page
  bool backward = false;
  double seconds = 10;
  bool hashes_only = false;
  double rate = 15;          // queries a second at most (servers answer 429 past 20)
  std::uint32_t retries = 6; // 429 answers taken, each with a doubled pause, before giving up
};

/// The /p2p/<id> part of a multiaddr: the peer the query goes to.
std::string peer_id_of(const std::string& address) {
  auto at = address.rfind("/p2p/");
  if (at == std::string::npos || at + 5 >= address.size())
    fail(make_error(errc::invalid_argument,
                    "--peer " + address + " has no /p2p/<peer ID> part"),
         exit_bad_input);
  return address.substr(at + 5);
}

void run_query(const query_options& o) {
  store_query query;
  if (!o.pubsub_topic.empty())
    query.pubsub_topic = o.pubsub_topic;
  query.content_topics = o.content_topics;
  query.time_start = o.start;
  query.time_end = o.end;
  for (const auto& h : o.hashes) {
    auto bytes = from_hex(h);
    if (!bytes || bytes->size() != 32)
      fail(make_error(errc::invalid_argument, "--hash " + h + " is not 32 bytes of hex"),
           exit_bad_input);
    query.message_hashes.emplace_back(bytes->begin(), bytes->end());
  }
  query.forward = !o.backward;
  query.include_data = !o.hashes_only;
  query.limit = o.page_size;
  // The server's own check, before anything is dialled.
  store_refusal refusal{};
  if (auto checked = parse_store_query(encode_store_query(query), store_query_limits{}, &refusal);
      !checked)
    fail(make_error(errc::invalid_argument, refusal.description), exit_bad_input);

  auto target = peer_id_of(o.peer);
  p2p::host_config config;
  config.static_peers = {o.peer};
  auto host = take(p2p::host::start(std::move(config)), "store");
  const auto timeout = std::chrono::milliseconds(static_cast<long>(o.seconds * 1000));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto peers = host->peers();
    if (std::find(peers.begin(), peers.end(), target) != peers.end())
      break;
    if (std::chrono::steady_clock::now() > deadline)
      fail("could not connect to " + o.peer + " within " + std::to_string(o.seconds) + " s");
    std::this_thread::sleep_for(20ms);
  }
  std::uint64_t printed = 0;
  // Paced below the server's per-peer rate, and a 429 is a pause, not the
  // end: a store of many pages is read whole at the rate the peer allows.
  const auto spacing = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
    std::chrono::duration<double>(1.0 / o.rate));
  auto next_query = std::chrono::steady_clock::now();
  std::uint32_t throttled = 0;
  auto pause = 1s;
  for (int page = 0;; ++page) {
    std::this_thread::sleep_until(next_query);
    next_query = std::chrono::steady_clock::now() + spacing;
    query.request_id = "annals-" + std::to_string(page);
    std::promise<result<std::string>> answered;
    auto answer_future = answered.get_future();
    // Each page has the whole timeout: a long walk is not a slow peer.
    host->request(target, std::string(store_query_protocol), encode_store_query(query),
                  store_query_limits{}.max_response_bytes + (1 << 20), timeout,
                  [&](result<std::string> r) { answered.set_value(std::move(r)); });
    auto bytes = take(answer_future.get(), "store query");
    auto answer = take(parse_store_answer(bytes), "store answer");
    if (answer.status_code == static_cast<std::uint32_t>(store_status::too_many_requests)) {
      if (throttled++ == o.retries)
        fail("store peer answered 429 (" + answer.status_desc + ") " + std::to_string(throttled)
             + " times in a row; " + std::to_string(printed) + " messages printed");
      std::fprintf(stderr, "store peer answered 429 (%s); asking again in %lld s\n",
                   answer.status_desc.c_str(), static_cast<long long>(pause.count()));
      next_query = std::chrono::steady_clock::now() + pause;
      pause = std::min<std::chrono::seconds>(pause * 2, 30s);
      --page;
      continue;
    }
    throttled = 0;
    pause = 1s;
    if (answer.status_code != 200)
      fail("store peer answered " + std::to_string(answer.status_code) + ": "
           + answer.status_desc);
    for (const auto& m : answer.messages) {
      nlohmann::ordered_json line;
      line["hash"] = to_hex0x(m.hash);
      if (!m.message.empty()) {
        waku::WakuMessage message;
        message.ParseFromString(m.message);
        line["pubsubTopic"] = m.pubsub_topic;
        line["contentTopic"] = message.content_topic();
        line["timestamp"] = message.timestamp();
        line["payload"] = to_base64(message.payload());
      }
      std::printf("%s\n", json_text(line).c_str());
      if (o.limit > 0 && ++printed >= o.limit) {
        std::fflush(stdout);
        return;
      }
    }
    std::fflush(stdout);
    if (!answer.cursor || answer.messages.empty())
      return;
    query.cursor = answer.cursor;
  }
}

} // namespace

void add_store_commands(CLI::App& app) {
  auto* store = app.add_subcommand("store", "Waku store (13/WAKU2-STORE v3) tools");
  store->require_subcommand(1);
  auto o = std::make_shared<query_options>();
  auto* query = store->add_subcommand(
    "query", "Ask a store peer and print one JSON line per message (hash, pubsubTopic, "
             "contentTopic, timestamp, payload base64), every page in turn");
  query->add_option("--peer", o->peer, "/ip4/…/tcp/…/p2p/<peer ID> of the store peer")
    ->required();
  query->add_option("--pubsub-topic", o->pubsub_topic, "e.g. /waku/2/rs/16/32");
  query->add_option("--content-topic", o->content_topics, "repeatable; needs --pubsub-topic");
  query->add_option("--start", o->start, "Unix nanoseconds, inclusive");
  query->add_option("--end", o->end, "Unix nanoseconds, inclusive");
  query->add_option("--hash", o->hashes, "message hash (hex), repeatable; a lookup");
  query->add_option("--page-size", o->page_size, "messages per page (1..100)")
    ->check(CLI::Range(1, 100));
  query->add_option("--limit", o->limit, "stop after this many messages (0: all)");
  query->add_flag("--backward", o->backward, "newest first (pages walk back in time)");
  query->add_flag("--hashes-only", o->hashes_only, "ask without message data");
  query->add_option("--seconds", o->seconds, "connect timeout, and the answer timeout of each page")
    ->check(CLI::PositiveNumber);
  query->add_option("--rate", o->rate,
                    "queries a second at most (store servers answer 429 past 20 from one peer)")
    ->check(CLI::Range(0.1, 1000.0))
    ->capture_default_str();
  query->add_option("--retries", o->retries,
                    "429 answers in a row taken, each after a doubled pause from 1 s, before "
                    "giving up")
    ->check(CLI::Range(0, 20))
    ->capture_default_str();
  query->callback([o] { run_query(*o); });
}

} // namespace annals::app
