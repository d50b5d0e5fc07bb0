#include "core/identity.hpp"
#include "core/file_io.hpp"

#include "core/keccak.hpp"

#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_recovery.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <unistd.h>

namespace annals {

namespace {

// One context for the process. After creation and randomization a
// secp256k1 context is only read, so sharing it across threads is safe.
const secp256k1_context* context() {
  static const secp256k1_context* ctx = [] {
    auto* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    unsigned char seed[32];
    if (RAND_bytes(seed, sizeof(seed)) != 1 || secp256k1_context_randomize(c, seed) != 1)
      throw std::runtime_error("secp256k1: cannot randomize the context");
    return c;
  }();
  return ctx;
}

std::array<std::uint8_t, 33> serialize_compressed(const secp256k1_pubkey& key) {
  std::array<std::uint8_t, 33> out{};
  size_t size = out.size();
  secp256k1_ec_pubkey_serialize(context(), out.data(), &size, &key, SECP256K1_EC_COMPRESSED);
  return out;
}

secp256k1_pubkey parse_known_good(const std::array<std::uint8_t, 33>& compressed) {
  secp256k1_pubkey key;
  if (secp256k1_ec_pubkey_parse(context(), &key, compressed.data(), compressed.size()) != 1)
    throw std::logic_error("public_key holds an invalid point");
  return key;
}

} // namespace

// -- public_key ---------------------------------------------------------------

result<public_key> public_key::parse(std::string_view bytes) {
  if (bytes.size() != 33 && bytes.size() != 65)
    return make_error(errc::malformed, "public key must be 33 or 65 bytes, got "
                                         + std::to_string(bytes.size()));
  secp256k1_pubkey key;
  if (secp256k1_ec_pubkey_parse(context(), &key,
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                bytes.size())
      != 1)
    return make_error(errc::malformed, "bytes are not a secp256k1 public key");
  public_key out;
  out.compressed_ = serialize_compressed(key);
  return out;
}

result<public_key> public_key::from_community_id(std::string_view text) {
  if (text.size() != 68 || text.substr(0, 2) != "0x")
    return make_error(errc::malformed, "community ID '" + std::string(text)
                                         + "' is not 0x followed by 66 hex digits");
  auto raw = from_hex(text);
  if (!raw)
    return make_error(errc::malformed, "community ID '" + std::string(text) + "' is not hex");
  return parse(*raw);
}

std::array<std::uint8_t, 65> public_key::uncompressed() const {
  auto key = parse_known_good(compressed_);
  std::array<std::uint8_t, 65> out{};
  size_t size = out.size();
  secp256k1_ec_pubkey_serialize(context(), out.data(), &size, &key, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

// -- private_key ------------------------------------------------------------------

private_key private_key::generate() {
  for (;;) {
    std::array<std::uint8_t, 32> candidate;
    if (RAND_bytes(candidate.data(), static_cast<int>(candidate.size())) != 1)
      throw std::runtime_error("no randomness available for a private key");
    if (auto key = from_bytes(as_view(candidate)))
      return *key;
  }
}

result<private_key> private_key::from_bytes(std::string_view bytes) {
  if (bytes.size() != 32)
    return make_error(errc::malformed,
                      "private key must be 32 bytes, got " + std::to_string(bytes.size()));
  private_key key;
  std::memcpy(key.bytes_.data(), bytes.data(), 32);
  if (secp256k1_ec_seckey_verify(context(), key.bytes_.data()) != 1)
    return make_error(errc::malformed, "private key is zero or not below the curve order");
  return key;
}

result<private_key> private_key::load_or_create(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec))
    return load(file);
  auto key = generate();
  if (auto saved = key.save(file); !saved)
    return saved.error();
  return key;
}

result<private_key> private_key::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return make_error(errc::not_found, file.string() + ": cannot open key file");
  // 64 hex digits and a newline; anything much larger is not a key file.
  auto read = read_file_bytes(file, 4096);
  if (!read)
    return make_error(read.error().code == errc::invalid_argument ? errc::malformed
                                                                  : read.error().code,
                      "key file " + read.error().message);
  auto text = std::move(*read);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  auto raw = from_hex(text);
  if (!raw || raw->size() != 32)
    return make_error(errc::malformed,
                      file.string() + ": expected 64 hex digits (a secp256k1 private key)");
  auto key = from_bytes(*raw);
  if (!key)
    return make_error(errc::malformed, file.string() + ": " + key.error().message);
  return key;
}

result<void> private_key::save(const std::filesystem::path& file) const {
  if (file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
  }
  // O_EXCL: a key is never silently replaced; 0600 from the start, so the key
  // is never readable by others, not even between open and chmod.
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    auto code = errno == EEXIST ? errc::conflict : errc::io;
    return make_error(code, file.string() + ": " + std::strerror(errno));
  }
  auto text = to_hex(bytes_) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())
            && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok)
    return make_error(errc::io, file.string() + ": " + std::strerror(saved));
  return ok_result();
}

public_key private_key::public_key() const {
  secp256k1_pubkey key;
  if (secp256k1_ec_pubkey_create(context(), &key, bytes_.data()) != 1)
    throw std::logic_error("private_key holds an invalid scalar");
  auto compressed = serialize_compressed(key);
  return *annals::public_key::parse(as_view(compressed));
}

signature65 private_key::sign(const hash256& digest) const {
  secp256k1_ecdsa_recoverable_signature sig;
  if (secp256k1_ecdsa_sign_recoverable(context(), &sig, digest.data(), bytes_.data(), nullptr,
                                       nullptr)
      != 1)
    throw std::logic_error("secp256k1 signing failed with a verified key");
  signature65 out{};
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(context(), out.data(), &recid, &sig);
  out[64] = static_cast<std::uint8_t>(recid);
  return out;
}

signature65 private_key::sign_keccak(std::string_view payload) const {
  return sign(keccak256(payload));
}

std::string private_key::sign_sha256_der(std::string_view message) const {
  auto digest = sha256(message);
  secp256k1_ecdsa_signature sig;
  if (secp256k1_ecdsa_sign(context(), &sig, digest.data(), bytes_.data(), nullptr, nullptr) != 1)
    throw std::logic_error("secp256k1 signing failed with a verified key");
  unsigned char der[72];
  size_t size = sizeof(der);
  secp256k1_ecdsa_signature_serialize_der(context(), der, &size, &sig);
  return std::string(reinterpret_cast<const char*>(der), size);
}

std::array<std::uint8_t, 64> private_key::sign_compact(const hash256& digest) const {
  secp256k1_ecdsa_signature sig;
  if (secp256k1_ecdsa_sign(context(), &sig, digest.data(), bytes_.data(), nullptr, nullptr) != 1)
    throw std::logic_error("secp256k1 signing failed with a verified key");
  std::array<std::uint8_t, 64> out{};
  secp256k1_ecdsa_signature_serialize_compact(context(), out.data(), &sig);
  return out;
}

namespace {

bool verify_r_s(const public_key& key, const hash256& digest, std::string_view signature,
                bool normalize) {
  if (signature.size() != 64)
    return false;
  auto point = parse_known_good(key.compressed());
  secp256k1_ecdsa_signature sig;
  if (secp256k1_ecdsa_signature_parse_compact(
        context(), &sig, reinterpret_cast<const unsigned char*>(signature.data()))
      != 1)
    return false;
  // libsecp256k1 verifies only low-S signatures.
  if (normalize)
    secp256k1_ecdsa_signature_normalize(context(), &sig, &sig);
  return secp256k1_ecdsa_verify(context(), &sig, digest.data(), &point) == 1;
}

} // namespace

bool verify_compact(const public_key& key, const hash256& digest, std::string_view signature) {
  return verify_r_s(key, digest, signature, false);
}

bool verify_compact_any_s(const public_key& key, const hash256& digest,
                          std::string_view signature) {
  return verify_r_s(key, digest, signature, true);
}

namespace {

// libsecp256k1 hashes the shared point by default; discv5 wants the point.
int copy_compressed_point(unsigned char* out, const unsigned char* x32, const unsigned char* y32,
                          void*) {
  out[0] = (y32[31] & 1) ? 0x03 : 0x02;
  std::memcpy(out + 1, x32, 32);
  return 1;
}

} // namespace

std::array<std::uint8_t, 33> ecdh_compressed(const private_key& own, const public_key& peer) {
  auto point = parse_known_good(peer.compressed());
  std::array<std::uint8_t, 33> out{};
  if (secp256k1_ecdh(context(), out.data(), &point, own.bytes().data(), copy_compressed_point,
                     nullptr)
      != 1)
    throw std::logic_error("secp256k1 ECDH failed with a verified key");
  return out;
}

bool verify_sha256_der(const public_key& key, std::string_view message, std::string_view der) {
  auto point = parse_known_good(key.compressed());
  secp256k1_ecdsa_signature sig;
  if (secp256k1_ecdsa_signature_parse_der(context(), &sig,
                                          reinterpret_cast<const unsigned char*>(der.data()),
                                          der.size())
      != 1)
    return false;
  secp256k1_ecdsa_signature_normalize(context(), &sig, &sig);
  auto digest = sha256(message);
  return secp256k1_ecdsa_verify(context(), &sig, digest.data(), &point) == 1;
}

// -- recovery --------------------------------------------------------------------

result<public_key> recover(const hash256& digest, std::string_view signature) {
  if (signature.size() != 65)
    return make_error(errc::malformed, "signature must be 65 bytes, got "
                                         + std::to_string(signature.size()));
  auto v = static_cast<std::uint8_t>(signature[64]);
  if (v > 1)
    return make_error(errc::verification_failed,
                      "signature recovery id must be 0 or 1, got " + std::to_string(v));
  secp256k1_ecdsa_recoverable_signature sig;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(
        context(), &sig, reinterpret_cast<const unsigned char*>(signature.data()), v)
      != 1)
    return make_error(errc::malformed, "signature R||S is out of range");
  secp256k1_pubkey key;
  if (secp256k1_ecdsa_recover(context(), &key, &sig, digest.data()) != 1)
    return make_error(errc::verification_failed, "no public key recovers from this signature");
  auto compressed = serialize_compressed(key);
  return public_key::parse(as_view(compressed));
}

result<public_key> recover_keccak(std::string_view payload, std::string_view signature) {
  return recover(keccak256(payload), signature);
}

} // namespace annals
