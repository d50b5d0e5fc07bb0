#include "core/discv5_wire.hpp"

#include "core/keccak.hpp"
#include "core/rlp.hpp"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace annals::discv5 {

namespace {

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string_view view(const std::array<std::uint8_t, 16>& a) {
  return {reinterpret_cast<const char*>(a.data()), a.size()};
}
std::string_view view(const std::array<std::uint8_t, 12>& a) {
  return {reinterpret_cast<const char*>(a.data()), a.size()};
}
std::string_view view(const hash256& a) {
  return {reinterpret_cast<const char*>(a.data()), a.size()};
}

/// AES-128-CTR with the IV as the whole initial counter block: masking is
/// its own inverse.
std::string aes_ctr(const key128& key, const masking_iv& iv, std::string_view in) {
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  std::string out(in.size(), '\0');
  int written = 0;
  if (!ctx
      || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ctr(), nullptr, key.data(), iv.data()) != 1
      || EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
                           bytes_of(in), static_cast<int>(in.size()))
           != 1)
    throw std::runtime_error("discv5: AES-CTR failed");
  return out;
}

key128 masking_key(const node_id& id) {
  key128 key{};
  std::copy_n(id.begin(), key.size(), key.begin());
  return key;
}

std::uint16_t read_u16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(s[at]) << 8)
                                    | static_cast<std::uint8_t>(s[at + 1]));
}

std::uint64_t read_u64(std::string_view s, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<std::uint8_t>(s[at + i]);
  return v;
}

void append_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

error bad(std::string what) {
  return make_error(errc::malformed, "discv5: " + std::move(what));
}

} // namespace

std::string packet::associated_data() const {
  std::string out(view(iv));
  out += header;
  return out;
}

std::string make_header(std::string_view protocol_id, packet_kind kind, const nonce96& nonce,
                        std::string_view authdata) {
  std::string out;
  out.reserve(static_header_size + authdata.size());
  out.append(protocol_id.substr(0, 6));
  out.push_back('\x00');
  out.push_back('\x01');
  out.push_back(static_cast<char>(kind));
  out.append(view(nonce));
  out.push_back(static_cast<char>((authdata.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(authdata.size() & 0xff));
  out.append(authdata);
  return out;
}

std::string encode_packet(const node_id& dest, const masking_iv& iv, std::string_view header,
                          std::string_view sealed) {
  std::string out(view(iv));
  out += aes_ctr(masking_key(dest), iv, header);
  out.append(sealed);
  return out;
}

result<packet> decode_packet(std::string_view protocol_id, const node_id& local,
                             std::string_view datagram) {
  if (datagram.size() < min_packet_size)
    return bad("packet of " + std::to_string(datagram.size()) + " bytes is below the minimum of "
               + std::to_string(min_packet_size));
  if (datagram.size() > max_packet_size)
    return bad("packet of " + std::to_string(datagram.size()) + " bytes is over the maximum of "
               + std::to_string(max_packet_size));
  packet p;
  std::copy_n(reinterpret_cast<const std::uint8_t*>(datagram.data()), p.iv.size(), p.iv.begin());
  // CTR is a stream: unmasking everything after the IV and keeping what the
  // header claims is the same as unmasking the header alone.
  auto rest = datagram.substr(p.iv.size());
  auto clear = aes_ctr(masking_key(local), p.iv, rest);
  if (std::string_view(clear).substr(0, 6) != protocol_id.substr(0, 6))
    return bad("protocol ID is not " + std::string(protocol_id));
  if (read_u16(clear, 6) != 1)
    return bad("version " + std::to_string(read_u16(clear, 6)) + " is not 1");
  auto flag = static_cast<std::uint8_t>(clear[8]);
  if (flag > 2)
    return bad("unknown flag " + std::to_string(flag));
  p.kind = static_cast<packet_kind>(flag);
  std::copy_n(reinterpret_cast<const std::uint8_t*>(clear.data()) + 9, p.nonce.size(),
              p.nonce.begin());
  auto authdata_size = read_u16(clear, 21);
  if (static_header_size + authdata_size > rest.size())
    return bad("authdata of " + std::to_string(authdata_size) + " bytes runs past the packet");
  p.header = clear.substr(0, static_header_size + authdata_size);
  p.authdata = p.header.substr(static_header_size);
  p.sealed = std::string(rest.substr(p.header.size()));
  switch (p.kind) {
    case packet_kind::message:
      if (authdata_size != 32)
        return bad("message authdata is " + std::to_string(authdata_size) + " bytes, not 32");
      if (p.sealed.size() < gcm_tag_size)
        return bad("message is shorter than its tag");
      break;
    case packet_kind::whoareyou:
      if (authdata_size != 24)
        return bad("WHOAREYOU authdata is " + std::to_string(authdata_size) + " bytes, not 24");
      if (!p.sealed.empty())
        return bad("WHOAREYOU carries a message");
      break;
    case packet_kind::handshake:
      if (authdata_size < 34)
        return bad("handshake authdata of " + std::to_string(authdata_size)
                   + " bytes is shorter than its head");
      if (p.sealed.size() < gcm_tag_size)
        return bad("handshake message is shorter than its tag");
      break;
  }
  return p;
}

// -- authdata ---------------------------------------------------------------

std::string message_authdata(const node_id& src) {
  return std::string(view(src));
}

std::string whoareyou_authdata(const whoareyou_auth& auth) {
  std::string out(view(auth.nonce));
  append_u64(out, auth.enr_seq);
  return out;
}

std::string handshake_authdata(const handshake_auth& auth) {
  std::string out(view(auth.src));
  out.push_back(static_cast<char>(auth.id_signature.size()));
  out.push_back(static_cast<char>(auth.ephemeral_key.size()));
  out += auth.id_signature;
  out += auth.ephemeral_key;
  out += auth.record;
  return out;
}

node_id message_source(const packet& p) {
  node_id id{};
  std::copy_n(reinterpret_cast<const std::uint8_t*>(p.authdata.data()), id.size(), id.begin());
  return id;
}

whoareyou_auth parse_whoareyou(const packet& p) {
  whoareyou_auth auth;
  std::copy_n(reinterpret_cast<const std::uint8_t*>(p.authdata.data()), auth.nonce.size(),
              auth.nonce.begin());
  auth.enr_seq = read_u64(p.authdata, 16);
  return auth;
}

result<handshake_auth> parse_handshake(const packet& p) {
  std::string_view a = p.authdata;
  handshake_auth auth;
  std::copy_n(reinterpret_cast<const std::uint8_t*>(a.data()), auth.src.size(), auth.src.begin());
  auto sig_size = static_cast<std::uint8_t>(a[32]);
  auto key_size = static_cast<std::uint8_t>(a[33]);
  if (sig_size != 64)
    return bad("handshake signature size " + std::to_string(sig_size) + " is not 64 (v4)");
  if (key_size != 33)
    return bad("handshake ephemeral key size " + std::to_string(key_size) + " is not 33 (v4)");
  if (a.size() < 34u + sig_size + key_size)
    return bad("handshake authdata ends inside its signature or key");
  auth.id_signature = std::string(a.substr(34, sig_size));
  auth.ephemeral_key = std::string(a.substr(34 + sig_size, key_size));
  auth.record = std::string(a.substr(34u + sig_size + key_size));
  return auth;
}

// -- handshake crypto -------------------------------------------------------

session_keys derive_keys(const std::array<std::uint8_t, 33>& secret, const node_id& initiator,
                         const node_id& recipient, std::string_view challenge_data) {
  std::string info = "discovery v5 key agreement";
  info.append(view(initiator));
  info.append(view(recipient));
  std::array<std::uint8_t, 32> okm{};
  std::size_t okm_size = okm.size();
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
    EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1
      || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1
      || EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), bytes_of(challenge_data),
                                     static_cast<int>(challenge_data.size()))
           != 1
      || EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), secret.data(), static_cast<int>(secret.size()))
           != 1
      || EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), bytes_of(info), static_cast<int>(info.size()))
           != 1
      || EVP_PKEY_derive(ctx.get(), okm.data(), &okm_size) != 1 || okm_size != okm.size())
    throw std::runtime_error("discv5: HKDF failed");
  session_keys keys;
  std::copy_n(okm.begin(), 16, keys.initiator.begin());
  std::copy_n(okm.begin() + 16, 16, keys.recipient.begin());
  return keys;
}

hash256 id_proof_digest(std::string_view challenge_data, std::string_view ephemeral_key,
                        const node_id& recipient) {
  std::string input = "discovery v5 identity proof";
  input.append(challenge_data);
  input.append(ephemeral_key);
  input.append(view(recipient));
  return sha256(input);
}

std::string seal(const key128& key, const nonce96& nonce, std::string_view plaintext,
                 std::string_view associated_data) {
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + gcm_tag_size, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int written = 0, ignored = 0, final_written = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1
      || EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1
      || EVP_EncryptUpdate(ctx.get(), nullptr, &ignored, bytes_of(associated_data),
                           static_cast<int>(associated_data.size()))
           != 1
      || EVP_EncryptUpdate(ctx.get(), dst, &written, bytes_of(plaintext),
                           static_cast<int>(plaintext.size()))
           != 1
      || EVP_EncryptFinal_ex(ctx.get(), dst + written, &final_written) != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, gcm_tag_size,
                             dst + plaintext.size())
           != 1)
    throw std::runtime_error("discv5: AES-GCM sealing failed");
  return out;
}

result<std::string> open(const key128& key, const nonce96& nonce, std::string_view sealed,
                         std::string_view associated_data) {
  if (sealed.size() < gcm_tag_size)
    return bad("sealed message is shorter than its tag");
  auto body = sealed.substr(0, sealed.size() - gcm_tag_size);
  std::string tag(sealed.substr(body.size()));
  std::string out(body.size(), '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int written = 0, ignored = 0, final_written = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1
      || EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1
      || EVP_DecryptUpdate(ctx.get(), nullptr, &ignored, bytes_of(associated_data),
                           static_cast<int>(associated_data.size()))
           != 1
      || EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
                           bytes_of(body), static_cast<int>(body.size()))
           != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, gcm_tag_size, tag.data()) != 1)
    throw std::runtime_error("discv5: AES-GCM opening failed");
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + written,
                          &final_written)
      != 1)
    return make_error(errc::verification_failed, "discv5: message does not authenticate");
  return out;
}

// -- messages ---------------------------------------------------------------

namespace {

enum : std::uint8_t {
  type_ping = 1,
  type_pong = 2,
  type_findnode = 3,
  type_nodes = 4,
  type_talkreq = 5,
  type_talkresp = 6,
};

std::string with_type(std::uint8_t type, const std::string& items) {
  std::string out(1, static_cast<char>(type));
  out += rlp::encode_list(items);
  return out;
}

result<std::uint64_t> uint_field(const rlp::item& item, const char* what) {
  if (item.list)
    return bad(std::string(what) + " is a list, not an integer");
  auto v = rlp::decode_uint(item.payload);
  if (!v)
    return bad(std::string(what) + ": " + v.error().message);
  return *v;
}

result<std::string> bytes_field(const rlp::item& item, const char* what) {
  if (item.list)
    return bad(std::string(what) + " is a list, not bytes");
  return std::string(item.payload);
}

result<request_id> id_field(const rlp::item& item) {
  auto id = bytes_field(item, "request-id");
  if (!id)
    return id.error();
  if (id->size() > 8)
    return bad("request-id of " + std::to_string(id->size()) + " bytes is over 8");
  return *id;
}

} // namespace

std::string encode_message(const message& m) {
  struct visitor {
    std::string operator()(const ping& x) const {
      return with_type(type_ping, rlp::encode_bytes(x.id) + rlp::encode_uint(x.enr_seq));
    }
    std::string operator()(const pong& x) const {
      return with_type(type_pong, rlp::encode_bytes(x.id) + rlp::encode_uint(x.enr_seq)
                                    + rlp::encode_bytes(x.ip) + rlp::encode_uint(x.port));
    }
    std::string operator()(const findnode& x) const {
      std::string distances;
      for (auto d : x.distances)
        distances += rlp::encode_uint(d);
      return with_type(type_findnode, rlp::encode_bytes(x.id) + rlp::encode_list(distances));
    }
    std::string operator()(const nodes& x) const {
      std::string records;
      for (const auto& r : x.records)
        records += r;  // each is already an RLP list
      return with_type(type_nodes, rlp::encode_bytes(x.id) + rlp::encode_uint(x.total)
                                     + rlp::encode_list(records));
    }
    std::string operator()(const talkreq& x) const {
      return with_type(type_talkreq, rlp::encode_bytes(x.id) + rlp::encode_bytes(x.protocol)
                                       + rlp::encode_bytes(x.request));
    }
    std::string operator()(const talkresp& x) const {
      return with_type(type_talkresp, rlp::encode_bytes(x.id) + rlp::encode_bytes(x.response));
    }
  };
  return std::visit(visitor{}, m);
}

result<message> decode_message(std::string_view plaintext) {
  if (plaintext.empty())
    return bad("empty message");
  auto type = static_cast<std::uint8_t>(plaintext[0]);
  std::string_view in = plaintext.substr(1);
  auto top = rlp::take_item(in);
  if (!top)
    return bad("message body: " + top.error().message);
  if (!in.empty())
    return bad("bytes after the message body");
  if (!top->list)
    return bad("message body is not a list");
  auto items = rlp::list_items(top->payload);
  if (!items)
    return bad("message body: " + items.error().message);
  auto& f = *items;
  auto want = [&](std::size_t n, const char* name) -> result<void> {
    if (f.size() != n)
      return bad(std::string(name) + " has " + std::to_string(f.size()) + " fields, not "
                 + std::to_string(n));
    return {};
  };
#define ANNALS_TRY(var, expr)                                                                      \
  auto var = (expr);                                                                               \
  if (!var)                                                                                        \
    return var.error();
  switch (type) {
    case type_ping: {
      ANNALS_TRY(n, want(2, "PING"));
      ANNALS_TRY(id, id_field(f[0]));
      ANNALS_TRY(seq, uint_field(f[1], "PING enr-seq"));
      return message{ping{*id, *seq}};
    }
    case type_pong: {
      ANNALS_TRY(n, want(4, "PONG"));
      ANNALS_TRY(id, id_field(f[0]));
      ANNALS_TRY(seq, uint_field(f[1], "PONG enr-seq"));
      ANNALS_TRY(ip, bytes_field(f[2], "PONG recipient-ip"));
      if (ip->size() != 4 && ip->size() != 16)
        return bad("PONG recipient-ip of " + std::to_string(ip->size()) + " bytes");
      ANNALS_TRY(port, uint_field(f[3], "PONG recipient-port"));
      if (*port > 65535)
        return bad("PONG recipient-port " + std::to_string(*port) + " is over 65535");
      return message{pong{*id, *seq, *ip, static_cast<std::uint16_t>(*port)}};
    }
    case type_findnode: {
      ANNALS_TRY(n, want(2, "FINDNODE"));
      ANNALS_TRY(id, id_field(f[0]));
      if (!f[1].list)
        return bad("FINDNODE distances are not a list");
      ANNALS_TRY(ds, rlp::list_items(f[1].payload));
      findnode out{*id, {}};
      for (const auto& d : *ds) {
        ANNALS_TRY(v, uint_field(d, "FINDNODE distance"));
        if (*v > 256)
          return bad("FINDNODE distance " + std::to_string(*v) + " is over 256");
        out.distances.push_back(static_cast<std::uint16_t>(*v));
      }
      return message{std::move(out)};
    }
    case type_nodes: {
      ANNALS_TRY(n, want(3, "NODES"));
      ANNALS_TRY(id, id_field(f[0]));
      ANNALS_TRY(total, uint_field(f[1], "NODES total"));
      if (!f[2].list)
        return bad("NODES records are not a list");
      ANNALS_TRY(rs, rlp::list_items(f[2].payload));
      nodes out{*id, *total, {}};
      for (const auto& r : *rs) {
        if (!r.list)
          return bad("a NODES record is not a list");
        out.records.emplace_back(r.encoded);
      }
      return message{std::move(out)};
    }
    case type_talkreq: {
      ANNALS_TRY(n, want(3, "TALKREQ"));
      ANNALS_TRY(id, id_field(f[0]));
      ANNALS_TRY(protocol, bytes_field(f[1], "TALKREQ protocol"));
      ANNALS_TRY(request, bytes_field(f[2], "TALKREQ request"));
      return message{talkreq{*id, *protocol, *request}};
    }
    case type_talkresp: {
      ANNALS_TRY(n, want(2, "TALKRESP"));
      ANNALS_TRY(id, id_field(f[0]));
      ANNALS_TRY(response, bytes_field(f[1], "TALKRESP response"));
      return message{talkresp{*id, *response}};
    }
    default:
      return bad("unknown message type " + std::to_string(type));
  }
#undef ANNALS_TRY
}

const request_id& id_of(const message& m) {
  return std::visit([](const auto& x) -> const request_id& { return x.id; }, m);
}

std::string_view name_of(const message& m) {
  static constexpr std::string_view names[] = {"PING",  "PONG",    "FINDNODE",
                                               "NODES", "TALKREQ", "TALKRESP"};
  return names[m.index()];
}

bool same_request(std::string_view a, std::string_view b) {
  auto strip = [](std::string_view s) {
    while (!s.empty() && s.front() == '\0')
      s.remove_prefix(1);
    return s;
  };
  return strip(a) == strip(b);
}

// -- distance ---------------------------------------------------------------

int log_distance(const node_id& a, const node_id& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<std::uint8_t>(a[i] ^ b[i]);
    if (x != 0) {
      int bits = 0;
      while (x != 0) {
        ++bits;
        x >>= 1;
      }
      return static_cast<int>((a.size() - i - 1) * 8) + bits;
    }
  }
  return 0;
}

bool closer(const node_id& target, const node_id& x, const node_id& y) {
  for (std::size_t i = 0; i < target.size(); ++i) {
    auto dx = static_cast<std::uint8_t>(target[i] ^ x[i]);
    auto dy = static_cast<std::uint8_t>(target[i] ^ y[i]);
    if (dx != dy)
      return dx < dy;
  }
  return false;
}

std::vector<nodes> split_nodes(const request_id& id, const std::vector<std::string>& records) {
  std::vector<nodes> out;
  auto total = std::max<std::size_t>(1, (records.size() + records_per_nodes - 1)
                                          / records_per_nodes);
  for (std::size_t i = 0; i < total; ++i) {
    nodes n{id, total, {}};
    for (std::size_t j = i * records_per_nodes;
         j < std::min(records.size(), (i + 1) * records_per_nodes); ++j)
      n.records.push_back(records[j]);
    out.push_back(std::move(n));
  }
  return out;
}

} // namespace annals::discv5
