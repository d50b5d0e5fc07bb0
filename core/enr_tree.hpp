// Node lists in DNS (EIP-1459): a merkle tree of TXT records, signed at its
// root by a tree key, that names ENRs and links to other trees. This core
// parses and checks entries, builds trees for operators, and walks a tree
// through a TXT lookup it is given, so the resolver (net/dns_txt) stays out.
#pragma once

#include "core/enr.hpp"
#include "core/identity.hpp"
#include "core/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace annals {

/// `enrtree://<base32 compressed tree key>@<domain>`.
struct enrtree_url {
  public_key key;
  std::string domain;  // lower case, no trailing dot
  std::string text() const;
};
/// Errors name what is wrong: the scheme, the key, the domain.
result<enrtree_url> parse_enrtree_url(std::string_view text);

/// The subdomain label of an entry: base32 of the first 16 bytes of
/// keccak-256 of its text (26 characters).
std::string enrtree_label(std::string_view entry_text);

/// `enrtree-root:v1 e=<enr root> l=<link root> seq=<n> sig=<65 bytes, base64url>`.
struct enrtree_root {
  std::string enr_root;   // label of the subtree of ENRs
  std::string link_root;  // label of the subtree of links
  std::uint64_t seq = 0;
  /// The text the signature covers (everything before " sig=").
  std::string signed_text() const;
  /// The signed root record, as it goes into the TXT record at the domain.
  std::string sign(const private_key& key) const;
};
/// Parses a root and checks its signature against the tree's key
/// (errc::verification_failed when it does not match).
result<enrtree_root> parse_enrtree_root(std::string_view text, const public_key& key);

/// An entry below the root: a branch of labels, an ENR leaf, or a link.
struct enrtree_entry {
  enum class kind { branch, record, link } type = kind::branch;
  std::vector<std::string> children;  // branch
  enr_record record;                  // record (verified)
  enrtree_url link;                   // link
};
result<enrtree_entry> parse_enrtree_entry(std::string_view text);

/// Hashes per branch, so an entry stays within a 512-byte UDP answer.
inline constexpr std::size_t enrtree_branch_max = 13;

struct enrtree_txt {
  std::string label;  // "" for the root, which lives at the domain itself
  std::string text;
};
/// The TXT records of a tree holding `records` (enr: text, each verified)
/// and `links` (enrtree:// URLs), root first. Fails naming a record or link
/// that does not parse.
result<std::vector<enrtree_txt>> make_enr_tree(const private_key& key, std::uint64_t seq,
                                               const std::vector<std::string>& records,
                                               const std::vector<std::string>& links);

/// Answers the TXT strings at a name (each record's strings joined), or an
/// error (no such name, timeout, server failure).
using txt_lookup = std::function<result<std::vector<std::string>>(const std::string& name)>;

/// Bounds on one sync, so a hostile or huge tree costs a known amount.
struct enrtree_limits {
  std::size_t max_lookups = 2000;  // TXT queries per sync, links included
  std::size_t max_records = 1000;  // records taken per sync
  std::size_t max_link_depth = 3;  // trees reached through links
};

struct enrtree_sync_result {
  std::vector<enr_record> records;  // verified, each node once
  std::size_t lookups = 0;          // TXT queries sent (cached entries cost none)
  std::size_t trees = 0;            // roots read (the URL's and linked ones)
  /// Entries refused or unreachable below a verified root, with why; the
  /// rest of the tree is still walked.
  std::vector<std::string> failures;
  std::uint64_t seq = 0;  // the URL's root
};

/// Walks trees and remembers, per domain, the highest root sequence seen (a
/// lower one is refused as stale, EIP-1459 step 2) and the entries met on the
/// last walk (they are content-addressed, so an unchanged tree costs one
/// query per root).
class enrtree_client {
public:
  explicit enrtree_client(enrtree_limits limits = {}) : limits_(limits) {}
  /// Fails only when the URL's own root cannot be read or verified.
  result<enrtree_sync_result> sync(const enrtree_url& url, const txt_lookup& lookup);

private:
  struct walk;
  enrtree_limits limits_;
  std::map<std::string, std::uint64_t> seqs_;   // by domain
  std::map<std::string, std::string> entries_;  // "label.domain" -> entry text
};

} // namespace annals
