// Discovery input from strangers: an ENR's RLP (peer exchange and discv5
// carry records as bytes), a peer-exchange query a peer sends us, an answer
// whose records go through the peer manager's vetting, whose table stays
// bounded however many arrive, and a DNS tree's TXT entries (EIP-1459).
#include "core/enr.hpp"
#include "core/enr_tree.hpp"
#include "core/peer_exchange.hpp"
#include "net/p2p/peer_manager.hpp"
#include "tests/fuzz/fuzz.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static annals::p2p::peer_manager manager = [] {
    annals::p2p::peer_manager_config c;
    c.max_candidates = 64;
    return annals::p2p::peer_manager(c, "fuzzer");
  }();
  auto bytes = annals::fuzz::view(data, size);
  if (auto record = annals::decode_enr(bytes)) {
    // A record that decodes is the bytes it came from, and its text form
    // decodes to the same record.
    if (record->encoded != bytes)
      std::abort();
    auto again = annals::parse_enr(record->text());
    if (!again || again->encoded != record->encoded)
      std::abort();
  }
  (void)annals::decode_px_query(bytes);
  (void)annals::parse_enrtree_entry(bytes);
  static const auto tree_key = annals::private_key::generate().public_key();
  (void)annals::parse_enrtree_root(bytes, tree_key);
  if (auto answer = annals::decode_px_answer(bytes))
    for (const auto& r : answer->records)
      (void)manager.add_record_bytes(r, annals::p2p::peer_source::peer_exchange, true,
                                     annals::p2p::peer_manager::clock::now());
  if (manager.candidate_count() > 64)
    std::abort();
  return 0;
}
