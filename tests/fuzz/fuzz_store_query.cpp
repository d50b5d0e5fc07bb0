// A Waku store request as a stranger sends it, answered by the real server
// over a real RocksDB store of recorded relay messages; and a store answer
// as a stranger sends it back to our client.
#include "core/store_query.hpp"
#include "storage/store.hpp"
#include "storage/store_server.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "tests/relay_message.hpp"

#include <cstdlib>
#include <filesystem>

namespace {

annals::store_query_server& server() {
  static auto* s = [] {
    char dir[] = "/tmp/fuzz-store-XXXXXX";
    if (::mkdtemp(dir) == nullptr)
      std::abort();
    std::shared_ptr<annals::store> db = std::move(*annals::store::open(dir));
    std::vector<annals::stored_relay_message> messages;
    for (int i = 0; i < 64; ++i)
      messages.push_back(annals::test::make_relay_message(
        i % 2 ? "/waku/2/rs/16/32" : "/waku/2/rs/16/64", i % 3 ? "/a/1/x/proto" : "/b/1/y/proto",
        std::int64_t{1'700'000'000} * 1'000'000'000 + (i / 4) * 1000, "payload " + std::to_string(i)));
    if (!db->relay_messages().record(messages))
      std::abort();
    annals::store_server_options options;
    options.queries_per_second = 1e12;
    options.burst = 1e12;
    auto* out = new annals::store_query_server(options);
    out->attach(db);
    return out;
  }();
  return *s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = annals::fuzz::view(data, size);
  auto answer = server().answer("fuzzer", bytes);
  // Our own answer always parses, with a status code.
  auto parsed = annals::parse_store_answer(answer);
  if (!parsed || parsed->status_code == 0)
    std::abort();
  (void)annals::parse_store_answer(bytes);
  return 0;
}
