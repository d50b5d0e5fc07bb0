#include "core/status_envelope.hpp"

#include "core/keccak.hpp"
#include "proto/protocol_message.pb.h"
#include "proto/status_archive.pb.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <limits>
#include <memory>

namespace annals {

namespace {

constexpr std::uint8_t waku_payload_signed_flag = 0x04;
constexpr std::uint8_t waku_payload_size_field_mask = 0x03;
constexpr std::size_t waku_payload_signature_size = 65;
constexpr std::size_t waku_payload_padding_block = 256;
constexpr std::size_t aes_gcm_nonce_size = 12;
constexpr std::size_t aes_gcm_tag_size = 16;

// protobuf and OpenSSL take buffer sizes as int.
constexpr std::size_t int_max = static_cast<std::size_t>(std::numeric_limits<int>::max());

// go-waku writes the L3 size field with as many bytes as the length needs, and
// n = 4 would set the signed flag; so 3 bytes is the real limit.
constexpr std::size_t max_waku_payload_data = std::size_t{1} << 24;

// go-waku's validateDataIntegrity: random bytes that are all zero mean a broken
// random source, except for 1..3 bytes where zeros are plausible.
constexpr std::size_t zero_check_min_size = 4;

bool looks_random(const std::uint8_t* data, std::size_t size) {
  return size < zero_check_min_size
         || std::any_of(data, data + size, [](std::uint8_t b) { return b != 0; });
}

// Go's utf8.ValidString: the check proto3 applies to string fields on both
// ends, so a string that fails it would make status-go drop the message.
bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto lead = static_cast<std::uint8_t>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code = 0;
    std::uint32_t min_code = 0;
    if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code = lead & 0x1f;
      min_code = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code = lead & 0x0f;
      min_code = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code = lead & 0x07;
      min_code = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i < length)
      return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<std::uint8_t>(text[i + k]);
      if ((next & 0xc0) != 0x80)
        return false;
      code = (code << 6) | (next & 0x3f);
    }
    bool overlong = code < min_code;
    bool surrogate = code >= 0xd800 && code <= 0xdfff;
    if (overlong || surrogate || code > 0x10ffff)
      return false;
    i += length;
  }
  return true;
}

bool parse_bytes(google::protobuf::MessageLite& message, std::string_view bytes) {
  return bytes.size() <= int_max
         && message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

std::uint8_t* writable(std::string& bytes) {
  return reinterpret_cast<std::uint8_t*>(bytes.data());
}
const std::uint8_t* readable(std::string_view bytes) {
  return reinterpret_cast<const std::uint8_t*>(bytes.data());
}

} // namespace

bool system_random(std::uint8_t* out, std::size_t size) {
  return size <= int_max && RAND_bytes(out, static_cast<int>(size)) == 1;
}

// -- L1 -------------------------------------------------------------------------

hash256 status_message_id(const public_key& signer, std::string_view l1_bytes) {
  auto key = signer.uncompressed();
  std::string preimage(as_view(key));
  preimage.append(l1_bytes);
  return keccak256(preimage);
}

result<std::string> encode_magnetlink_message(const private_key& community_key,
                                              const magnetlink& link) {
  if (!is_utf8(link.magnet_uri))
    return make_error(errc::invalid_argument, "L1: magnet URI is not valid UTF-8");
  status::CommunityMessageArchiveMagnetlink payload;
  payload.set_clock(link.clock);
  payload.set_magnet_uri(link.magnet_uri);
  auto payload_bytes = payload.SerializeAsString();
  auto signature = community_key.sign_keccak(payload_bytes);

  status::ApplicationMetadataMessage message;
  message.set_signature(signature.data(), signature.size());
  message.set_payload(std::move(payload_bytes));
  message.set_type(status::ApplicationMetadataMessage::COMMUNITY_MESSAGE_ARCHIVE_MAGNETLINK);
  return message.SerializeAsString();
}

result<signed_magnetlink> decode_magnetlink_message(std::string_view bytes) {
  status::ApplicationMetadataMessage message;
  if (!parse_bytes(message, bytes))
    return make_error(errc::malformed, "L1: " + std::to_string(bytes.size())
                                         + " bytes are not an ApplicationMetadataMessage");
  if (message.type() != status::ApplicationMetadataMessage::COMMUNITY_MESSAGE_ARCHIVE_MAGNETLINK)
    return make_error(errc::unsupported,
                      "L1: message type " + std::to_string(message.type())
                        + ", not COMMUNITY_MESSAGE_ARCHIVE_MAGNETLINK (43)");
  // Bytes outside the signed payload would give one signed link many
  // message IDs; status-go writes none.
  // (The lite runtime keeps unknown fields opaque: a copy of the known
  // fields alone is shorter when there are any.)
  status::ApplicationMetadataMessage known;
  known.set_signature(message.signature());
  known.set_payload(message.payload());
  known.set_type(message.type());
  if (known.ByteSizeLong() != bytes.size())
    return make_error(errc::malformed, "L1: fields outside the signed payload");
  auto signer = recover_keccak(message.payload(), message.signature());
  if (!signer)
    return make_error(errc::verification_failed, "L1: signature: " + signer.error().message);
  status::CommunityMessageArchiveMagnetlink payload;
  if (!parse_bytes(payload, message.payload()))
    return make_error(errc::malformed,
                      "L1: payload is not a CommunityMessageArchiveMagnetlink");
  signed_magnetlink out;
  out.link = magnetlink{payload.clock(), payload.magnet_uri()};
  out.signer = *signer;
  out.message_id = status_message_id(*signer, bytes);
  return out;
}

// -- L2 -------------------------------------------------------------------------

result<std::string> encode_public_protocol_message(std::string_view installation_id,
                                                   std::string_view public_message) {
  if (!is_utf8(installation_id))
    return make_error(errc::invalid_argument, "L2: installation ID is not valid UTF-8");
  encryption::ProtocolMessage message;
  message.set_installation_id(std::string(installation_id));
  message.set_public_message(std::string(public_message));
  return message.SerializeAsString();
}

result<public_protocol_message> decode_public_protocol_message(std::string_view bytes) {
  encryption::ProtocolMessage message;
  if (!parse_bytes(message, bytes))
    return make_error(errc::malformed, "L2: " + std::to_string(bytes.size())
                                         + " bytes are not a ProtocolMessage");
  if (message.public_message().empty())
    return make_error(errc::malformed, "L2: ProtocolMessage has no public_message (field 102)");
  return public_protocol_message{message.installation_id(), message.public_message()};
}

// -- L3 -------------------------------------------------------------------------

result<std::string> encode_signed_waku_payload(std::string_view data,
                                               const private_key& node_key,
                                               const random_source& random) {
  if (data.size() >= max_waku_payload_data)
    return make_error(errc::invalid_argument,
                      "L3: " + std::to_string(data.size())
                        + " bytes of data; the size field holds at most 3 bytes");
  std::size_t size_field = data.size() < 0x100 ? 1 : data.size() < 0x10000 ? 2 : 3;
  std::size_t unpadded = 1 + size_field + data.size() + waku_payload_signature_size;
  // Always 1..256 bytes, never 0: go-waku pads a full block when aligned.
  std::size_t padding = waku_payload_padding_block - unpadded % waku_payload_padding_block;

  std::string out;
  out.reserve(unpadded + padding);
  // The signed flag is set before signing: the signature covers it.
  out.push_back(static_cast<char>(size_field | waku_payload_signed_flag));
  for (std::size_t i = 0; i < size_field; ++i)
    out.push_back(static_cast<char>((data.size() >> (8 * i)) & 0xff));
  out.append(data);
  std::string pad(padding, '\0');
  if (!random(writable(pad), pad.size()))
    return make_error(errc::io, "L3: no randomness for the padding");
  if (!looks_random(readable(pad), pad.size()))
    return make_error(errc::io, "L3: the random source returned " + std::to_string(pad.size())
                                  + " zero bytes of padding, which go-waku refuses");
  out += pad;
  auto signature = node_key.sign_keccak(out);
  out.append(as_view(signature));
  return out;
}

result<signed_waku_payload> decode_signed_waku_payload(std::string_view plaintext) {
  if (plaintext.empty())
    return make_error(errc::malformed, "L3: empty plaintext");
  auto flags = static_cast<std::uint8_t>(plaintext[0]);
  if ((flags & waku_payload_signed_flag) == 0)
    return make_error(errc::verification_failed,
                      "L3: unsigned envelope (flag 0x04 clear); status-go drops those");
  // go-waku needs at least one byte besides the flags before the signature.
  if (plaintext.size() < 2 + waku_payload_signature_size)
    return make_error(errc::malformed,
                      "L3: " + std::to_string(plaintext.size())
                        + " bytes cannot hold flags, a size field and a 65-byte signature");
  auto covered = plaintext.substr(0, plaintext.size() - waku_payload_signature_size);
  auto signature = plaintext.substr(covered.size());

  // A size field of 0 bytes means no data, all padding (go-waku's reading).
  std::size_t size_field = flags & waku_payload_size_field_mask;
  if (covered.size() < 1 + size_field)
    return make_error(errc::malformed,
                      "L3: the size field needs " + std::to_string(size_field) + " bytes but only "
                        + std::to_string(covered.size() - 1) + " precede the signature");
  std::size_t data_size = 0;
  for (std::size_t i = 0; i < size_field; ++i)
    data_size |= std::size_t{static_cast<std::uint8_t>(covered[1 + i])} << (8 * i);
  std::size_t available = covered.size() - 1 - size_field;
  if (data_size > available)
    return make_error(errc::malformed, "L3: size field says " + std::to_string(data_size)
                                         + " but only " + std::to_string(available)
                                         + " bytes precede the signature");

  auto signer = recover_keccak(covered, signature);
  if (!signer)
    return make_error(errc::verification_failed,
                      "L3: envelope signature: " + signer.error().message);
  return signed_waku_payload{std::string(covered.substr(1 + size_field, data_size)), *signer};
}

// -- L4 -------------------------------------------------------------------------

result<std::string> seal_waku_payload(std::string_view plaintext, const symmetric_key& key,
                                      const random_source& random) {
  if (plaintext.size() > int_max)
    return make_error(errc::invalid_argument, "L4 AES-GCM: plaintext too large");
  std::array<std::uint8_t, aes_gcm_nonce_size> nonce{};
  if (!random(nonce.data(), nonce.size()))
    return make_error(errc::io, "L4 AES-GCM: no randomness for the nonce");
  if (!looks_random(nonce.data(), nonce.size()))
    return make_error(errc::io, "L4 AES-GCM: the random source returned an all-zero nonce");

  std::string out(plaintext.size() + aes_gcm_tag_size + aes_gcm_nonce_size, '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int written = 0;
  int final_written = 0;
  bool ok = ctx
            && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data())
                 == 1
            && EVP_EncryptUpdate(ctx.get(), writable(out), &written, readable(plaintext),
                                 static_cast<int>(plaintext.size()))
                 == 1
            && EVP_EncryptFinal_ex(ctx.get(), writable(out) + written, &final_written) == 1
            && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, aes_gcm_tag_size,
                                   writable(out) + plaintext.size())
                 == 1;
  if (!ok)
    return make_error(errc::io, "L4 AES-GCM: OpenSSL failed to encrypt");
  std::copy(nonce.begin(), nonce.end(), writable(out) + plaintext.size() + aes_gcm_tag_size);
  return out;
}

result<std::string> open_waku_payload(std::string_view wire, const symmetric_key& key) {
  if (wire.size() < aes_gcm_tag_size + aes_gcm_nonce_size)
    return make_error(errc::malformed,
                      "L4 AES-GCM: " + std::to_string(wire.size())
                        + " bytes, fewer than the 16-byte tag and 12-byte nonce");
  if (wire.size() > int_max)
    return make_error(errc::malformed, "L4 AES-GCM: payload too large");
  auto ciphertext = wire.substr(0, wire.size() - aes_gcm_tag_size - aes_gcm_nonce_size);
  // EVP's set-tag control takes a non-const pointer.
  std::array<std::uint8_t, aes_gcm_tag_size> tag{};
  std::copy_n(readable(wire) + ciphertext.size(), tag.size(), tag.data());
  const std::uint8_t* nonce = readable(wire) + ciphertext.size() + aes_gcm_tag_size;

  std::string plaintext(ciphertext.size(), '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int written = 0;
  bool ready = ctx
               && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) == 1
               && EVP_DecryptUpdate(ctx.get(), writable(plaintext), &written,
                                    readable(ciphertext), static_cast<int>(ciphertext.size()))
                    == 1
               && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, aes_gcm_tag_size,
                                      tag.data())
                    == 1;
  if (!ready)
    return make_error(errc::io, "L4 AES-GCM: OpenSSL failed to decrypt");
  int final_written = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), writable(plaintext) + written, &final_written) != 1)
    return make_error(errc::verification_failed,
                      "L4 AES-GCM: authentication failed (another key, or altered bytes)");
  return plaintext;
}

// -- L5 -------------------------------------------------------------------------

waku::WakuMessage make_status_waku_message(std::string payload, const topic4& topic,
                                           std::int64_t timestamp_ns) {
  waku::WakuMessage message;
  message.set_payload(std::move(payload));
  message.set_content_topic(content_topic(topic));
  message.set_version(1);
  message.set_timestamp(timestamp_ns);
  // Set explicitly, so both are on the wire (5a 00, f8 01 00) as status-go's are.
  message.set_meta(std::string());
  message.set_ephemeral(false);
  return message;
}

hash256 waku_message_hash(std::string_view pubsub_topic, const waku::WakuMessage& message) {
  std::string preimage;
  preimage.reserve(pubsub_topic.size() + message.payload().size()
                   + message.content_topic().size() + message.meta().size() + 8);
  preimage.append(pubsub_topic);
  preimage.append(message.payload());
  preimage.append(message.content_topic());
  // An absent meta reads as empty, so it adds nothing, as the spec requires.
  preimage.append(message.meta());
  auto timestamp = static_cast<std::uint64_t>(message.timestamp());
  for (int shift = 56; shift >= 0; shift -= 8)
    preimage.push_back(static_cast<char>((timestamp >> shift) & 0xff));
  return sha256(preimage);
}

// -- the whole message ------------------------------------------------------------

magnetlink_channel magnetlink_channel::of(const public_key& community) {
  auto chat_id = magnetlinks_chat_id(community.community_id());
  auto topic = chat_topic(chat_id);
  auto key = chat_symmetric_key(chat_id);
  return magnetlink_channel{community, std::move(chat_id), topic, key};
}

result<waku::WakuMessage> make_magnetlink_waku_message(const private_key& community_key,
                                                       const private_key& node_key,
                                                       const magnetlink& link,
                                                       std::int64_t timestamp_ns,
                                                       std::string_view installation_id,
                                                       const random_source& random) {
  auto l1 = encode_magnetlink_message(community_key, link);
  if (!l1)
    return l1.error();
  auto l2 = encode_public_protocol_message(installation_id, *l1);
  if (!l2)
    return l2.error();
  auto l3 = encode_signed_waku_payload(*l2, node_key, random);
  if (!l3)
    return l3.error();
  auto channel = magnetlink_channel::of(community_key.public_key());
  auto l4 = seal_waku_payload(*l3, channel.key, random);
  if (!l4)
    return l4.error();
  return make_status_waku_message(std::move(*l4), channel.topic, timestamp_ns);
}

result<received_magnetlink> open_magnetlink_waku_message(const waku::WakuMessage& message,
                                                         const magnetlink_channel& channel) {
  if (message.version() != 1)
    return make_error(errc::unsupported,
                      "L5: version " + std::to_string(message.version())
                        + "; status-go publishes 26/WAKU-PAYLOAD version 1");
  auto topic = parse_content_topic(message.content_topic());
  if (!topic)
    return make_error(topic.error().code, "L5: " + topic.error().message);
  if (*topic != channel.topic)
    return make_error(errc::verification_failed,
                      "L5: content topic " + message.content_topic() + " is not "
                        + content_topic(channel.topic) + " of " + channel.chat_id);
  auto l3 = open_waku_payload(message.payload(), channel.key);
  if (!l3)
    return l3.error();
  auto envelope = decode_signed_waku_payload(*l3);
  if (!envelope)
    return envelope.error();
  auto l2 = decode_public_protocol_message(envelope->data);
  if (!l2)
    return l2.error();
  auto l1 = decode_magnetlink_message(l2->public_message);
  if (!l1)
    return l1.error();
  if (l1->signer != channel.community)
    return make_error(errc::verification_failed,
                      "L1: signed by " + l1->signer.community_id() + ", not the community "
                        + channel.community.community_id());
  return received_magnetlink{std::move(*l1), envelope->signer};
}

} // namespace annals
