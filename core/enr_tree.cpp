#include "core/enr_tree.hpp"

#include "core/hex.hpp"
#include "core/keccak.hpp"

#include <algorithm>
#include <deque>
#include <random>
#include <set>

namespace annals {

namespace {

constexpr std::string_view url_prefix = "enrtree://";
constexpr std::string_view root_prefix = "enrtree-root:v1";
constexpr std::string_view branch_prefix = "enrtree-branch:";

error malformed(const std::string& what) { return make_error(errc::malformed, "enrtree: " + what); }

bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253 || domain.front() == '.' || domain.back() == '.')
    return false;
  std::size_t label = 0;
  for (char c : domain) {
    if (c == '.') {
      if (label == 0)
        return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_';
    if (!ok || ++label > 63)
      return false;
  }
  return true;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A label is base32 of 12..32 hash bytes (go-ethereum's bounds); writers
// use 16 bytes, 26 characters.
bool valid_label(std::string_view label) {
  if (label.size() < 10 || label.size() > 52)
    return false;
  auto bytes = from_base32(label);
  return bytes && bytes->size() >= 12 && bytes->size() <= 32;
}

std::vector<std::string_view> split(std::string_view text, char by) {
  std::vector<std::string_view> out;
  while (true) {
    auto at = text.find(by);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos)
      return out;
    text.remove_prefix(at + 1);
  }
}

} // namespace

std::string enrtree_url::text() const {
  return std::string(url_prefix) + to_base32(as_view(key.compressed())) + "@" + domain;
}

result<enrtree_url> parse_enrtree_url(std::string_view text) {
  if (text.substr(0, url_prefix.size()) != url_prefix)
    return malformed("a tree URL starts with \"enrtree://\"");
  text.remove_prefix(url_prefix.size());
  auto at = text.find('@');
  if (at == std::string_view::npos)
    return malformed("a tree URL is enrtree://<key>@<domain>; there is no '@'");
  auto key_bytes = from_base32(text.substr(0, at));
  if (!key_bytes || key_bytes->size() != 33)
    return malformed("the key is not base32 of a 33-byte compressed secp256k1 key");
  auto key = public_key::parse(*key_bytes);
  if (!key)
    return malformed("the key is not a secp256k1 point: " + key.error().message);
  auto domain = text.substr(at + 1);
  if (!valid_domain(domain))
    return malformed("\"" + std::string(domain) + "\" is not a domain name");
  return enrtree_url{*key, lower(domain)};
}

std::string enrtree_label(std::string_view entry_text) {
  auto digest = keccak256(entry_text);
  return to_base32(as_view(digest.data(), 16));
}

std::string enrtree_root::signed_text() const {
  return std::string(root_prefix) + " e=" + enr_root + " l=" + link_root
         + " seq=" + std::to_string(seq);
}

std::string enrtree_root::sign(const private_key& key) const {
  auto text = signed_text();
  auto sig = key.sign(keccak256(text));
  return text + " sig=" + to_base64url(as_view(sig));
}

result<enrtree_root> parse_enrtree_root(std::string_view text, const public_key& key) {
  auto parts = split(text, ' ');
  if (parts.size() != 5 || parts[0] != root_prefix)
    return malformed("a root is \"enrtree-root:v1 e=… l=… seq=… sig=…\"");
  auto value = [&](std::size_t i, std::string_view name) -> std::optional<std::string_view> {
    if (parts[i].substr(0, name.size()) != name)
      return std::nullopt;
    return parts[i].substr(name.size());
  };
  auto e = value(1, "e="), l = value(2, "l="), seq = value(3, "seq="), sig = value(4, "sig=");
  if (!e || !l || !seq || !sig)
    return malformed("a root is \"enrtree-root:v1 e=… l=… seq=… sig=…\", in that order");
  if (!valid_label(*e) || !valid_label(*l))
    return malformed("the root's e= or l= is not a base32 hash");
  enrtree_root root{std::string(*e), std::string(*l), 0};
  if (seq->empty() || seq->size() > 19 || !std::all_of(seq->begin(), seq->end(), [](char c) {
        return c >= '0' && c <= '9';
      }))
    return malformed("the root's seq= is not a decimal number");
  for (char c : *seq)
    root.seq = root.seq * 10 + static_cast<std::uint64_t>(c - '0');
  auto signature = from_base64url(*sig);
  if (!signature || signature->size() != 65)
    return malformed("the root's sig= is not 65 bytes of base64url");
  // R||S decides; V is ignored, as the reference implementations do.
  if (!verify_compact(key, keccak256(root.signed_text()), std::string_view(*signature).substr(0, 64)))
    return make_error(errc::verification_failed,
                      "enrtree: the root is not signed by the tree's key");
  return root;
}

result<enrtree_entry> parse_enrtree_entry(std::string_view text) {
  enrtree_entry out;
  if (text.substr(0, branch_prefix.size()) == branch_prefix) {
    text.remove_prefix(branch_prefix.size());
    out.type = enrtree_entry::kind::branch;
    if (text.empty())
      return out;
    for (auto label : split(text, ',')) {
      if (!valid_label(label))
        return malformed("a branch names \"" + std::string(label.substr(0, 60))
                         + "\", not a base32 hash");
      out.children.emplace_back(label);
    }
    return out;
  }
  if (text.substr(0, 4) == "enr:") {
    auto record = parse_enr(text);
    if (!record)
      return record.error();
    out.type = enrtree_entry::kind::record;
    out.record = std::move(*record);
    return out;
  }
  if (text.substr(0, url_prefix.size()) == url_prefix) {
    auto link = parse_enrtree_url(text);
    if (!link)
      return link.error();
    out.type = enrtree_entry::kind::link;
    out.link = std::move(*link);
    return out;
  }
  return malformed("an entry is enrtree-branch:…, enr:… or enrtree://…; this starts \""
                   + std::string(text.substr(0, 20)) + "\"");
}

namespace {

// Adds the subtree over `leaves` to `out` and returns its root label: one
// branch when they fit, else a branch over branches.
std::string add_subtree(std::vector<std::string> leaves, std::vector<enrtree_txt>& out) {
  while (true) {
    std::vector<std::string> level;
    for (std::size_t i = 0; i < leaves.size() || (i == 0 && leaves.empty());
         i += enrtree_branch_max) {
      std::string text(branch_prefix);
      for (std::size_t j = i; j < std::min(leaves.size(), i + enrtree_branch_max); ++j)
        text += (j == i ? "" : ",") + leaves[j];
      auto label = enrtree_label(text);
      out.push_back({label, std::move(text)});
      level.push_back(std::move(label));
    }
    if (level.size() == 1)
      return level.front();
    leaves = std::move(level);
  }
}

} // namespace

result<std::vector<enrtree_txt>> make_enr_tree(const private_key& key, std::uint64_t seq,
                                               const std::vector<std::string>& records,
                                               const std::vector<std::string>& links) {
  std::vector<enrtree_txt> entries;
  std::vector<std::string> record_labels, link_labels;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto record = parse_enr(records[i]);
    if (!record)
      return make_error(record.error().code,
                        "record " + std::to_string(i + 1) + ": " + record.error().message);
    auto text = record->text();
    if (!seen.insert(text).second)
      continue;
    auto label = enrtree_label(text);
    entries.push_back({label, std::move(text)});
    record_labels.push_back(std::move(label));
  }
  for (std::size_t i = 0; i < links.size(); ++i) {
    auto link = parse_enrtree_url(links[i]);
    if (!link)
      return make_error(link.error().code,
                        "link " + std::to_string(i + 1) + ": " + link.error().message);
    auto text = link->text();
    if (!seen.insert(text).second)
      continue;
    auto label = enrtree_label(text);
    entries.push_back({label, std::move(text)});
    link_labels.push_back(std::move(label));
  }
  enrtree_root root;
  root.seq = seq;
  root.enr_root = add_subtree(record_labels, entries);
  root.link_root = add_subtree(link_labels, entries);
  entries.insert(entries.begin(), enrtree_txt{"", root.sign(key)});
  // The two empty subtrees are one entry; a name holds each text once.
  std::set<std::string> labels;
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const enrtree_txt& t) { return !labels.insert(t.label).second; }),
                entries.end());
  return entries;
}

struct enrtree_client::walk {
  enrtree_client& client;
  const txt_lookup& lookup;
  enrtree_sync_result out;
  std::map<std::string, std::string> met;  // entries read on this walk
  std::set<std::string> visited;           // "label.domain"
  std::set<std::string> node_ids;
  std::mt19937_64 random{std::random_device{}()};

  bool budget() const { return out.lookups < client.limits_.max_lookups; }

  // The text at `name` whose label is `label`; a cached one costs nothing.
  result<std::string> entry_text(const std::string& label, const std::string& name) {
    if (auto it = client.entries_.find(name); it != client.entries_.end())
      return it->second;
    if (!budget())
      return make_error(errc::invalid_argument, "the sync's lookup budget is spent");
    ++out.lookups;
    auto texts = lookup(name);
    if (!texts)
      return texts.error();
    auto want = lower(label);
    for (auto& t : *texts)
      if (lower(enrtree_label(t)) == want)
        return t;
    return make_error(errc::verification_failed,
                      texts->empty() ? "no TXT record" : "no TXT record hashes to its name");
  }

  result<enrtree_root> root(const enrtree_url& url) {
    if (!budget())
      return make_error(errc::invalid_argument, "enrtree: the sync's lookup budget is spent");
    ++out.lookups;
    auto texts = lookup(url.domain);
    if (!texts)
      return make_error(texts.error().code, "enrtree: " + url.domain + ": " + texts.error().message);
    std::optional<error> refused;
    for (auto& t : *texts) {
      if (t.substr(0, root_prefix.size()) != root_prefix)
        continue;
      auto r = parse_enrtree_root(t, url.key);
      if (!r) {
        refused = r.error();
        continue;
      }
      auto& seen = client.seqs_[url.domain];
      if (r->seq < seen)
        return make_error(errc::verification_failed,
                          "enrtree: " + url.domain + ": stale root (seq " + std::to_string(r->seq)
                            + ", " + std::to_string(seen) + " was seen)");
      seen = r->seq;
      return r;
    }
    if (refused)
      return make_error(refused->code, refused->message + " (" + url.domain + ")");
    return make_error(errc::not_found, "enrtree: " + url.domain + ": no enrtree-root:v1 record");
  }

  // Walks one subtree; links found are appended to `links`.
  void subtree(const std::string& top, const std::string& domain, bool link_tree,
               std::vector<enrtree_url>& links) {
    std::deque<std::string> queue{top};
    while (!queue.empty()) {
      auto label = std::move(queue.front());
      queue.pop_front();
      auto name = label + "." + domain;
      if (!visited.insert(lower(name)).second)
        continue;
      if (!link_tree && out.records.size() >= client.limits_.max_records)
        return;
      auto text = entry_text(label, name);
      if (!text) {
        out.failures.push_back(name + ": " + text.error().message);
        if (!budget())
          return;
        continue;
      }
      met[name] = *text;
      auto entry = parse_enrtree_entry(*text);
      if (!entry) {
        out.failures.push_back(name + ": " + entry.error().message);
        continue;
      }
      switch (entry->type) {
      case enrtree_entry::kind::branch: {
        auto children = std::move(entry->children);
        // Random order, so a tree larger than the budget is sampled fairly.
        std::shuffle(children.begin(), children.end(), random);
        for (auto& c : children)
          queue.push_back(std::move(c));
        break;
      }
      case enrtree_entry::kind::record:
        if (link_tree) {
          out.failures.push_back(name + ": a record in the link subtree");
          break;
        }
        if (node_ids.insert(to_hex(entry->record.node_id())).second)
          out.records.push_back(std::move(entry->record));
        break;
      case enrtree_entry::kind::link:
        if (!link_tree) {
          out.failures.push_back(name + ": a link in the record subtree");
          break;
        }
        links.push_back(std::move(entry->link));
        break;
      }
    }
  }

  result<void> tree(const enrtree_url& url, std::size_t depth, std::set<std::string>& domains) {
    auto r = root(url);
    if (!r)
      return r.error();
    ++out.trees;
    if (depth == 0)
      out.seq = r->seq;
    std::vector<enrtree_url> links;
    if (depth < client.limits_.max_link_depth)
      subtree(r->link_root, url.domain, true, links);
    subtree(r->enr_root, url.domain, false, links);
    for (const auto& link : links) {
      if (!domains.insert(link.domain).second)
        continue;
      if (auto linked = tree(link, depth + 1, domains); !linked)
        out.failures.push_back(linked.error().message);
    }
    return ok_result();
  }
};

result<enrtree_sync_result> enrtree_client::sync(const enrtree_url& url, const txt_lookup& lookup) {
  walk w{*this, lookup, {}, {}, {}, {}};
  std::set<std::string> domains{url.domain};
  if (auto done = w.tree(url, 0, domains); !done)
    return done.error();
  // Only what this walk met stays cached, so the cache never outgrows one
  // tree's worth of entries.
  entries_ = std::move(w.met);
  return std::move(w.out);
}

} // namespace annals
