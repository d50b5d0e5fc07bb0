#include "core/peer_exchange.hpp"

#include "core/enr.hpp"
#include "proto/peer_exchange.pb.h"

namespace annals {

std::string encode_px_query(std::uint64_t num_peers) {
  waku::PeerExchangeRPC rpc;
  rpc.mutable_query()->set_num_peers(num_peers);
  return rpc.SerializeAsString();
}

result<std::uint64_t> decode_px_query(std::string_view bytes) {
  waku::PeerExchangeRPC rpc;
  if (!rpc.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(errc::malformed, "peer exchange: the query is not a PeerExchangeRPC");
  if (!rpc.has_query())
    return make_error(errc::malformed, "peer exchange: the RPC holds no query");
  return rpc.query().num_peers();
}

std::string encode_px_answer(const px_answer& answer) {
  waku::PeerExchangeRPC rpc;
  auto* response = rpc.mutable_response();
  for (const auto& record : answer.records)
    response->add_peer_infos()->set_enr(record);
  if (answer.status)
    response->set_status_code(*answer.status);
  if (!answer.status_desc.empty())
    response->set_status_desc(answer.status_desc);
  return rpc.SerializeAsString();
}

result<px_answer> decode_px_answer(std::string_view bytes) {
  waku::PeerExchangeRPC rpc;
  if (!rpc.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(errc::malformed, "peer exchange: the answer is not a PeerExchangeRPC");
  if (!rpc.has_response())
    return make_error(errc::malformed, "peer exchange: the RPC holds no response");
  const auto& response = rpc.response();
  if (static_cast<std::uint64_t>(response.peer_infos_size()) > px_max_answer_peers)
    return make_error(errc::malformed, "peer exchange: the answer holds "
                                         + std::to_string(response.peer_infos_size())
                                         + " records, more than "
                                         + std::to_string(px_max_answer_peers));
  px_answer out;
  if (response.has_status_code())
    out.status = response.status_code();
  out.status_desc = response.status_desc();
  for (int i = 0; i < response.peer_infos_size(); ++i) {
    const auto& enr = response.peer_infos(i).enr();
    if (enr.size() > enr_max_bytes)
      return make_error(errc::malformed, "peer exchange: record " + std::to_string(i) + " is "
                                           + std::to_string(enr.size()) + " bytes, more than "
                                           + std::to_string(enr_max_bytes));
    out.records.push_back(enr);
  }
  return out;
}

} // namespace annals
