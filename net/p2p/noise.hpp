// libp2p's Noise secure channel (/noise): Noise_XX_25519_ChaChaPoly_SHA256
// with the libp2p identity payload. Pure state machines over byte strings;
// the caller owns the socket.
//
// Layers, bottom up:
//   noise_cipher_state  ChaCha20-Poly1305 with the Noise nonce counter
//   noise_xx_state      the generic XX handshake (any prologue and payloads),
//                       kept separate so the official test vectors can run
//   noise_handshake     libp2p: empty prologue, signed identity payload,
//                       u16-BE framing, optional expected remote key
//   noise_session       transport frames after the handshake
#pragma once

#include "core/identity.hpp"
#include "core/result.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace annals::p2p {

/// Raw X25519 key (private scalar or public u-coordinate).
using x25519_key = std::array<std::uint8_t, 32>;

/// The largest Noise message; libp2p frames carry it behind a u16-BE length.
inline constexpr std::size_t noise_max_message = 65535;
/// The largest plaintext that fits one transport frame (65535 - 16-byte tag).
inline constexpr std::size_t noise_max_plaintext = noise_max_message - 16;

/// Takes one complete u16-BE length-prefixed frame off the front of `buffer`
/// and returns its body, or nullopt (leaving `buffer` alone) when the frame
/// has not fully arrived yet.
std::optional<std::string_view> next_noise_frame(std::string_view& buffer);

/// Noise CipherState for ChaChaPoly: nonce = 4 zero bytes || LE64(counter).
class noise_cipher_state {
public:
  noise_cipher_state() = default;
  explicit noise_cipher_state(const std::array<std::uint8_t, 32>& key) : key_(key), has_key_(true) {}

  bool has_key() const { return has_key_; }
  /// Without a key both directions are the identity (Noise spec 5.1).
  result<std::string> encrypt_with_ad(std::string_view ad, std::string_view plaintext);
  /// Fails on a bad tag and leaves the counter unchanged; a transport that
  /// sees this must drop the connection, since the streams are now out of step.
  result<std::string> decrypt_with_ad(std::string_view ad, std::string_view ciphertext);

private:
  std::array<std::uint8_t, 32> key_{};
  bool has_key_ = false;
  std::uint64_t nonce_ = 0;
};

/// The generic XX handshake:  -> e   <- e, ee, s, es   -> s, se
/// Messages here are unframed. Any error leaves the state failed for good.
class noise_xx_state {
public:
  enum class role { initiator, responder };

  /// `ephemeral_private` is for test vectors; normally it comes from RAND_bytes.
  static result<noise_xx_state> create(role r, std::string_view prologue,
                                       const x25519_key& static_private,
                                       std::optional<x25519_key> ephemeral_private = std::nullopt);

  /// True when this side must call write_message next.
  bool my_turn() const;
  bool complete() const { return step_ == 3; }
  /// Index (0..2) of the next message to write or read; 3 when complete.
  int message_index() const { return step_; }

  result<std::string> write_message(std::string_view payload);
  /// Returns the decrypted payload.
  result<std::string> read_message(std::string_view message);

  const x25519_key& local_static_public() const { return s_pub_; }
  /// The peer's static key; valid once its `s` token has been read.
  const x25519_key& remote_static() const { return rs_; }
  /// h after the last message: the channel binding value of the vectors.
  const std::array<std::uint8_t, 32>& handshake_hash() const { return h_; }

  /// Once complete: (this side's send cipher, this side's receive cipher).
  /// Noise's Split() is (initiator->responder, responder->initiator); this
  /// orients the pair for the caller's role.
  result<std::pair<noise_cipher_state, noise_cipher_state>> split() const;

private:
  noise_xx_state() = default;
  void mix_hash(std::string_view data);
  void mix_key(std::string_view input_key_material);
  result<void> mix_dh(const x25519_key& priv, const x25519_key& remote_pub);
  result<std::string> encrypt_and_hash(std::string_view plaintext);
  result<std::string> decrypt_and_hash(std::string_view ciphertext);
  /// Passes `r` through, marking the state failed when it is an error.
  result<void> fail(result<void> r);

  role role_ = role::initiator;
  int step_ = 0;        // index of the next message, 3 when done
  bool failed_ = false;
  std::array<std::uint8_t, 32> ck_{};
  std::array<std::uint8_t, 32> h_{};
  noise_cipher_state cipher_;
  x25519_key s_priv_{}, s_pub_{};
  x25519_key e_priv_{}, e_pub_{};
  std::optional<x25519_key> fixed_e_;
  x25519_key re_{}, rs_{};
};

/// NoiseHandshakePayload fields libp2p uses (extensions are never sent).
struct noise_identity_payload {
  std::string identity_key;  // serialized libp2p PublicKey protobuf
  std::string identity_sig;  // over "noise-libp2p-static-key:" || static X25519 key
};

/// Our secp256k1 identity and its signature over `static_public`.
noise_identity_payload sign_noise_payload(const private_key& identity,
                                          const x25519_key& static_public);

/// Encodes a NoiseHandshakePayload with fields 1 and 2.
std::string encode_noise_payload(const noise_identity_payload& payload);

/// Parses a remote NoiseHandshakePayload (unknown fields ignored) and checks
/// identity_sig against `remote_static` with a secp256k1 or Ed25519 identity
/// key. Returns the identity_key bytes (the PublicKey protobuf).
result<std::string> verify_noise_payload(std::string_view payload, const x25519_key& remote_static);

/// An established channel. encrypt() may return several frames; feed each
/// received frame body (see next_noise_frame) to decrypt_frame() in order.
class noise_session {
public:
  noise_session(noise_cipher_state send, noise_cipher_state recv, std::string remote_identity_key)
      : send_(send), recv_(recv), remote_identity_key_(std::move(remote_identity_key)) {}

  /// Length-prefixed frames ready for the wire, chunked at noise_max_plaintext;
  /// empty input yields no frames.
  result<std::string> encrypt(std::string_view plaintext);
  /// One frame body (without its length prefix). An error is fatal for the session.
  result<std::string> decrypt_frame(std::string_view ciphertext);

  /// The peer's serialized libp2p PublicKey, for computing its peer ID.
  const std::string& remote_identity_key() const { return remote_identity_key_; }

private:
  noise_cipher_state send_;
  noise_cipher_state recv_;
  std::string remote_identity_key_;
};

/// The libp2p handshake: three framed messages, then finish().
///   initiator: write, read, write      responder: read, write, read
class noise_handshake {
public:
  struct options {
    /// When set, the remote PublicKey protobuf must equal these bytes
    /// (the key behind the /p2p/ peer ID that was dialled).
    std::optional<std::string> expected_remote_key;
    /// Fixed X25519 keys, for tests; fresh random keys otherwise.
    std::optional<x25519_key> static_private;
    std::optional<x25519_key> ephemeral_private;
  };

  static result<noise_handshake> initiator(const private_key& identity, options opts = {});
  static result<noise_handshake> responder(const private_key& identity, options opts = {});

  /// The next message with its u16-BE length prefix.
  result<std::string> write_message();
  /// One message body, without the length prefix (see next_noise_frame).
  result<void> read_message(std::string_view message);
  bool my_turn() const { return !failed_ && state_.my_turn(); }
  bool complete() const { return !failed_ && state_.complete(); }
  result<noise_session> finish() const;

private:
  noise_handshake(noise_xx_state state, const private_key& identity, options opts)
      : state_(std::move(state)), identity_(identity), opts_(std::move(opts)) {}
  static result<noise_handshake> create(noise_xx_state::role r, const private_key& identity,
                                        options opts);

  noise_xx_state state_;
  private_key identity_;
  options opts_;
  std::string remote_identity_key_;
  bool failed_ = false;  // the remote payload was refused
};

} // namespace annals::p2p
