// `annals enr decode|self`: read a Waku node record, or print this node's.
#include "app/commands.hpp"
#include "app/json_text.hpp"
#include "app/own_enr.hpp"
#include "core/enr_tree.hpp"
#include "core/file_io.hpp"
#include "core/hex.hpp"
#include "net/interfaces.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/host.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>

#include <chrono>
#include <fstream>

namespace annals::app {

namespace fs = std::filesystem;

namespace {

std::string ip_text(int family, const std::uint8_t* bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, text, sizeof(text));
  return text;
}

nlohmann::ordered_json describe(const enr_record& r) {
  const auto& f = r.fields;
  nlohmann::ordered_json out;
  out["peer_id"] = p2p::enr_peer_id(r);
  out["node_id"] = to_hex(r.node_id());
  out["seq"] = r.seq;
  out["public_key"] = to_hex(as_view(r.key.compressed()));
  auto put_port = [&](const char* name, const std::optional<std::uint16_t>& port) {
    if (port)
      out[name] = *port;
  };
  if (f.ip)
    out["ip"] = ip_text(AF_INET, f.ip->data());
  put_port("tcp", f.tcp);
  put_port("udp", f.udp);
  if (f.ip6)
    out["ip6"] = ip_text(AF_INET6, f.ip6->data());
  put_port("tcp6", f.tcp6);
  put_port("udp6", f.udp6);
  out["multiaddrs"] = p2p::enr_multiaddr_texts(r);
  out["addresses"] = p2p::enr_addresses(r);
  if (f.waku2) {
    nlohmann::json caps = nlohmann::json::array();
    const std::pair<waku2_capability, const char*> names[] = {{waku2_relay, "relay"},
                                                              {waku2_store, "store"},
                                                              {waku2_filter, "filter"},
                                                              {waku2_lightpush, "lightpush"},
                                                              {waku2_sync, "sync"}};
    for (auto [bit, name] : names)
      if (*f.waku2 & bit)
        caps.push_back(name);
    out["capabilities"] = caps;
  }
  if (f.shards) {
    out["cluster"] = f.shards->cluster;
    out["shards"] = f.shards->shards;
  }
  nlohmann::ordered_json keys = nlohmann::json::array();
  for (const auto& [k, v] : r.pairs)
    keys.push_back(k);
  out["keys"] = keys;
  out["enr"] = r.text();
  return out;
}

void run_decode(const std::string& text) {
  auto record = parse_enr(text);
  if (!record)
    fail(record.error(), exit_bad_input);
  std::cout << json_text(describe(*record), 2) << "\n";
}

void run_self(const std::string& config_file) {
  auto c = take(load_run_config(config_file));
  auto key = take(private_key::load_or_create(c.relay_key_file), "relay key");
  // What the running node tells peers, from the listen addresses (a port 0
  // is only known once the node runs; `annals run` prints the record with
  // its bound port).
  auto addresses = p2p::advertised_to_peers(c.relay.external_addresses, c.relay.listen,
                                            local_interface_addresses());
  // A fixed discv5 port is known before the node runs; port 0 only then.
  std::uint16_t udp = 0;
  if (c.relay.discv5.enabled)
    if (auto l = p2p::parse_discv5_listen(c.relay.discv5.listen))
      udp = l->second;
  auto fields = node_enr_fields(c, addresses, udp);
  auto record = take(own_enr(key, fields, own_enr_file(c)), "own record");
  std::cout << json_text(describe(record), 2) << "\n";
}

struct tree_options {
  std::string key_file;
  std::string domain;
  std::uint64_t seq = 0;
  std::string format = "zone";
  std::vector<std::string> records;
  std::string records_file;
  std::vector<std::string> links;
};

// A zone-file TXT value: character-strings of at most 255 bytes, quoted.
std::string zone_strings(const std::string& text) {
  std::string out;
  for (std::size_t at = 0; at < text.size(); at += 255)
    out += (at ? " \"" : "\"") + text.substr(at, 255) + "\"";
  return out;
}

void run_tree(tree_options o) {
  auto key = take(private_key::load(o.key_file), "tree key " + o.key_file);
  if (!o.records_file.empty()) {
    std::ifstream in(o.records_file);
    if (!in)
      fail(o.records_file + ": cannot be read", exit_bad_input);
    for (std::string line; std::getline(in, line);) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
        line.pop_back();
      if (!line.empty() && line[0] != '#')
        o.records.push_back(line);
    }
  }
  // The URL's domain rules apply to --domain.
  auto url = parse_enrtree_url("enrtree://" + to_base32(as_view(key.public_key().compressed()))
                               + "@" + o.domain);
  if (!url)
    fail("--domain: " + url.error().message, exit_bad_input);
  if (o.seq == 0)
    o.seq = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
  auto tree = make_enr_tree(key, o.seq, o.records, o.links);
  if (!tree)
    fail(tree.error(), exit_bad_input);
  auto fqdn = [&](const enrtree_txt& t) {
    return t.label.empty() ? url->domain : t.label + "." + url->domain;
  };
  if (o.format == "json") {
    nlohmann::ordered_json out;
    out["url"] = url->text();
    out["seq"] = o.seq;
    nlohmann::ordered_json txt;
    for (const auto& t : *tree)
      txt[fqdn(t)] = t.text;
    out["txt"] = txt;
    std::cout << json_text(out, 2) << "\n";
  } else if (o.format == "dnsmasq") {
    std::cout << "# " << url->text() << " seq " << o.seq << "\n";
    // dnsmasq splits a value longer than 255 bytes into character-strings.
    for (const auto& t : *tree)
      std::cout << "txt-record=" << fqdn(t) << ",\"" << t.text << "\"\n";
  } else {
    std::cout << "; " << url->text() << " seq " << o.seq << "\n";
    // The root changes with every update; the hashed entries never do.
    for (const auto& t : *tree)
      std::cout << fqdn(t) << ". " << (t.label.empty() ? 300 : 86400) << " IN TXT "
                << zone_strings(t.text) << "\n";
  }
  std::cerr << url->text() << "\n";
}

} // namespace

result<enr_record> own_enr(const private_key& key, const enr_fields& given,
                           const fs::path& file) {
  // Over 300 bytes, the last multiaddrs give way.
  auto fields = given;
  auto fresh = make_enr(key, 1, fields);
  while (!fresh && !fields.multiaddrs.empty()) {
    fields.multiaddrs.pop_back();
    fresh = make_enr(key, 1, fields);
  }
  if (!fresh)
    return fresh.error();
  std::uint64_t seq = 1;
  std::error_code ec;
  if (fs::exists(file, ec)) {
    auto text = read_file_bytes(file, 4096);
    if (!text)
      return text.error();
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r'))
      text->pop_back();
    // A record this key signed: kept when it says the same, else outgrown.
    if (auto previous = parse_enr(*text); previous && previous->key == key.public_key()) {
      if (previous->pairs == fresh->pairs)
        return *previous;
      seq = previous->seq + 1;
    }
  }
  auto record = make_enr(key, seq, fields);
  if (!record)
    return record.error();
  // `enr self` may run before the node ever did (an operator listing it in
  // a DNS tree first).
  fs::create_directories(file.parent_path(), ec);
  if (auto saved = write_file_atomic(file, record->text() + "\n", 0600); !saved)
    return saved.error();
  return record;
}

enr_fields node_enr_fields(const run_config& c, const std::vector<std::string>& addresses,
                           std::uint16_t udp) {
  std::vector<std::string> plain;
  for (const auto& a : addresses)
    plain.push_back(a.substr(0, a.find("/p2p/")));
  std::uint8_t caps = waku2_relay;
  if (c.waku_store.serve)
    caps |= waku2_store;
  relay_shards shards{static_cast<std::uint16_t>(c.relay.cluster_id), {}};
  for (auto s : c.relay.shards)
    shards.shards.push_back(static_cast<std::uint16_t>(s));
  auto fields = p2p::own_enr_fields(plain, caps, shards);
  if (udp != 0)
    fields.udp = udp;
  return fields;
}

void add_enr_commands(CLI::App& app) {
  auto* enr = app.add_subcommand("enr", "Waku node records (EIP-778 ENRs)");
  enr->require_subcommand(1);

  auto text = std::make_shared<std::string>();
  auto* decode = enr->add_subcommand(
    "decode", "Verify an enr: record and print its peer, addresses, capabilities and shards as JSON");
  decode->add_option("ENR", *text, "The record, enr:…")->required();
  decode->callback([text] { run_decode(*text); });

  auto config = std::make_shared<std::string>();
  auto* self = enr->add_subcommand(
    "self", "Print this node's own record (its relay key, advertised addresses, capabilities)");
  self->add_option("--config", *config, "The node's config file")->required();
  self->callback([config] { run_self(*config); });

  auto tree = std::make_shared<tree_options>();
  auto* tree_cmd = enr->add_subcommand(
    "tree", "Write the TXT records of a DNS node list (EIP-1459) holding the given records, "
            "signed with a tree key; its enrtree:// URL goes to stderr");
  tree_cmd->add_option("--key", tree->key_file, "The tree's private key file (annals keygen)")
    ->required();
  tree_cmd->add_option("--domain", tree->domain, "The domain the root TXT record lives at")
    ->required();
  tree_cmd->add_option("--seq", tree->seq,
                       "The tree's sequence number; it must grow with each update "
                       "(default: the current Unix time)");
  tree_cmd->add_option("--format", tree->format, "zone (a zone file), dnsmasq (txt-record= "
                                                 "lines) or json")
    ->check(CLI::IsMember({"zone", "dnsmasq", "json"}));
  tree_cmd->add_option("--records-file", tree->records_file, "enr: records, one per line");
  tree_cmd->add_option("--link", tree->links, "An enrtree:// URL of another list to link to");
  tree_cmd->add_option("ENR", tree->records, "enr: records to list");
  tree_cmd->callback([tree] { run_tree(*tree); });
}

} // namespace annals::app
