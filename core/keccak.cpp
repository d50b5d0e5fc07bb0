#include "core/keccak.hpp"

#include <cryptopp/keccak.h>
#include <openssl/evp.h>

namespace annals {

hash256 keccak256(std::string_view data) {
  CryptoPP::Keccak_256 hasher;
  hasher.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  hash256 out;
  hasher.Final(out.data());
  return out;
}

hash256 sha256(std::string_view data) {
  hash256 out;
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

} // namespace annals
