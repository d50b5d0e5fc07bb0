// The relay tools and `annals run` as separate processes on 127.0.0.1: what
// an operator does from a shell, over the real libp2p stack.
#include "core/identity.hpp"
#include "core/hex.hpp"
#include "core/enr.hpp"
#include "net/p2p/enr_peer.hpp"
#include "net/p2p/peer_id.hpp"
#include "tests/enr_vectors.hpp"
#include "tests/eventually.hpp"
#include "tests/app/run_annals.hpp"
#include "tests/http_get.hpp"
#include "tests/process.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <set>
#include <thread>
#include <sstream>
#include <utility>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

/// The first listen multiaddr a `relay subscribe` printed.
std::string subscriber_address(child_process& sub) {
  auto hello = sub.wait_for_line([](const std::string& l) { return starts_with(l, "{\"peerId\""); }, 10s);
  INFO(sub.err());
  REQUIRE(hello);
  auto j = nlohmann::json::parse(*hello);
  REQUIRE(j["listenAddrs"].size() >= 1);
  return j["listenAddrs"][0].get<std::string>();
}

/// DIR/owner.toml (with "PEERS" for run_owner_and_member to fill in) and
/// DIR/member.toml for a community of two channels on loopback; `owner` and
/// `member` add lines to each one's [[community]], `member_top` to the
/// member's top level.
void write_owner_and_member_configs(const temp_dir& dir, const private_key& owner_key,
                                    std::size_t messages, const std::string& owner = {},
                                    const std::string& member = {},
                                    const std::string& member_top = {}) {
  auto torrent = "[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\ndht = false\n"
                 "advertise_address = true\n";
  auto channels = "channels = [\"general\", \"random\"]\n";
  {
    std::ofstream f(dir / "owner.toml");
    f << "data_dir = \"owner\"\n"
      << torrent << "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nPEERS\n"
      << "[archives]\ninterval = 2\nsettle = 1\n"
      << "[[community]]\nrole = \"owner\"\nkey = \"" << to_hex(owner_key.bytes()) << "\"\n"
      << channels << owner << "[community.traffic]\nmessages = " << messages
      << "\nrate = 5000\n";
  }
  std::ofstream f(dir / "member.toml");
  f << "data_dir = \"member\"\n"
    << member_top << torrent << "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
    << "[[community]]\nrole = \"member\"\nid = \"" << owner_key.public_key().community_id()
    << "\"\n"
    << channels << member;
}

/// The member of DIR/member.toml and the owner of DIR/owner.toml as two
/// `annals run` processes: the member starts first (so it hears the first
/// announcement), the owner's config gets the member's address in place of
/// "PEERS", and the member runs with --until-synced.
struct owner_and_member {
  std::unique_ptr<child_process> member;
  std::unique_ptr<child_process> owner;
  std::optional<int> member_code;
};
/// With `by_record`, the owner is given the member's `enr:` record (its
/// "relay: enr" line) instead of its multiaddr.
owner_and_member run_owner_and_member(const temp_dir& dir, bool by_record = false) {
  owner_and_member run;
  run.member = start_annals(dir, "member",
                            {"run", "--config", (dir / "member.toml").string(), "--until-synced",
                             "--seconds", "90", "--status-interval", "1"});
  auto listening = run.member->wait_for_line(
    [](const std::string& l) { return l.find("relay: listening /ip4/") != std::string::npos; }, 20s);
  INFO(run.member->err());
  REQUIRE(listening);
  auto member_addr = listening->substr(listening->find("/ip4/"));
  if (by_record) {
    auto record = run.member->wait_for_line(
      [](const std::string& l) { return l.find("relay: enr enr:") != std::string::npos; }, 5s);
    REQUIRE(record);
    member_addr = record->substr(record->find("enr:"));
    auto dialled = p2p::static_peer_address(member_addr);
    REQUIRE(dialled);
    CHECK(*dialled == listening->substr(listening->find("/ip4/")));
  }
  auto owner_text = read_file(dir / "owner.toml");
  owner_text.replace(owner_text.find("PEERS"), 5, "peers = [\"" + member_addr + "\"]");
  write_file(dir / "owner.toml", owner_text);
  run.owner = start_annals(dir, "owner", {"run", "--config", (dir / "owner.toml").string()});
  run.member_code = run.member->wait(90s);
  return run;
}

/// "synced <id>: A archives, M messages" -> (A, M).
std::pair<unsigned long, unsigned long> synced_counts(child_process& member,
                                                      const std::string& community) {
  auto synced = member.wait_for_line(
    [&](const std::string& l) { return l.find("synced " + community) != std::string::npos; }, 1s);
  REQUIRE(synced);
  auto tail = synced->substr(synced->find(": ", synced->find("synced ")) + 2);
  return {std::stoul(tail), std::stoul(tail.substr(tail.find(", ") + 2))};
}

} // namespace

TEST_CASE("relay publish reaches relay subscribe in another process", "[cli][relay]") {
  temp_dir dir("relay-cli");
  auto sub = start_annals(dir, "sub", {"relay", "subscribe", "--count", "1", "--seconds", "30"});
  auto addr = subscriber_address(*sub);

  auto pub = run_annals("relay publish --peer " + addr
                          + " --content-topic /annals/1/test/proto --payload hello",
                        dir);
  INFO(pub.err);
  REQUIRE(pub.code == 0);
  auto sent = nlohmann::json::parse(pub.out);
  CHECK(sent["recipients"] == 1);
  CHECK(sent["pubsubTopic"] == "/waku/2/rs/16/32");

  REQUIRE(sub->wait(20s) == std::optional<int>(0));
  auto line = sub->wait_for_line([](const std::string& l) { return starts_with(l, "{\"pubsubTopic\""); }, 1s);
  REQUIRE(line);
  auto got = nlohmann::json::parse(*line);
  CHECK(got["contentTopic"] == "/annals/1/test/proto");
  CHECK(got["payload"] == "aGVsbG8=");  // base64("hello")
  CHECK(got["hash"] == sent["hash"]);   // the same deterministic hash on both ends
}

TEST_CASE("relay publish and probe fail with a reason an operator can act on", "[cli][relay]") {
  temp_dir dir("relay-cli");
  SECTION("no subscriber on the topic") {
    auto sub = start_annals(dir, "sub", {"relay", "subscribe", "--topic", "/waku/2/rs/16/64",
                                         "--seconds", "30"});
    auto addr = subscriber_address(*sub);
    auto pub = run_annals("relay publish --seconds 2 --peer " + addr
                            + " --content-topic /annals/1/test/proto --payload hi",
                          dir);
    CHECK(pub.code == 1);
    CHECK(pub.err.find("no peer subscribed to /waku/2/rs/16/32") != std::string::npos);
  }
  SECTION("empty payload") {
    auto pub = run_annals("relay publish --peer /ip4/127.0.0.1/tcp/1 --content-topic /a/1/b/proto "
                          "--payload-hex ''",
                          dir);
    CHECK(pub.code == 2);
  }
  SECTION("probe of a live peer lists its protocols") {
    auto sub = start_annals(dir, "sub", {"relay", "subscribe", "--seconds", "30"});
    auto addr = subscriber_address(*sub);
    auto probe = run_annals("relay probe " + addr, dir);
    INFO(probe.err);
    REQUIRE(probe.code == 0);
    auto j = nlohmann::json::parse(probe.out);
    CHECK(addr.find(j["peerId"].get<std::string>()) != std::string::npos);
    CHECK(j["protocols"].dump().find("/vac/waku/relay/2.0.0") != std::string::npos);
  }
  SECTION("probe of a closed port names tcp") {
    auto probe = run_annals("relay probe /ip4/127.0.0.1/tcp/1 --seconds 3", dir);
    CHECK(probe.code == 1);
    CHECK(probe.err.find("probe /ip4/127.0.0.1/tcp/1: tcp: ") != std::string::npos);
  }
}

TEST_CASE("annals run: an owner process and a member process over the libp2p relay",
          "[cli][run]") {
  temp_dir dir("run");
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  // The member listens first, so it is connected before the owner's first
  // archive exists (links are announced once, when an archive is new). The
  // owner reaches it through the node record the member printed.
  write_owner_and_member_configs(dir, owner_key, 300);
  auto run = run_owner_and_member(dir, true);
  auto& member = run.member;
  auto& owner = run.owner;
  INFO("member:\n" << member->out() << member->err());
  INFO("owner:\n" << owner->out() << owner->err());
  REQUIRE(run.member_code == std::optional<int>(0));
  auto [archives, messages] = synced_counts(*member, community);
  CHECK(archives >= 1);
  CHECK(messages >= 1);
  CHECK(messages <= 300);
  // The link came over libp2p from the owner's peer ID, and was verified.
  CHECK(member->out().find("verified the owner's magnet link") != std::string::npos);
  CHECK(member->out().find("connected " ) != std::string::npos);
  // The periodic status line carries the relay's counters.
  CHECK(member->out().find("relay: listening, 1 peers; ") != std::string::npos);

  owner->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));
}

TEST_CASE("annals run refuses a bad config or a taken relay port and names the cause", "[cli][run]") {
  temp_dir dir("run-config");
  auto run_with = [&](const std::string& toml) {
    write_file(dir / "node.toml", toml);
    return run_annals("run --config " + (dir / "node.toml").string(), dir);
  };
  const std::string member = "[[community]]\nrole = \"member\"\nid = \""
                             + private_key::generate().public_key().community_id() + "\"\n";
  SECTION("no such file") {
    auto r = run_annals("run --config " + (dir / "absent.toml").string(), dir);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("absent.toml: no such config file"));
  }
  SECTION("a directory or a FIFO named as the config is refused unread") {
    fs::create_directories(dir / "cfgdir");
    auto directory = run_annals("run --config " + (dir / "cfgdir").string(), dir);
    CHECK(directory.code == 2);
    CHECK_THAT(directory.err, Catch::Contains("cfgdir"));
    REQUIRE(::mkfifo((dir / "fifo.toml").c_str(), 0600) == 0);
    auto fifo = run_annals("run --config " + (dir / "fifo.toml").string(), dir);
    CHECK(fifo.code == 2);
    CHECK_THAT(fifo.err, Catch::Contains("fifo.toml"));
  }
  SECTION("a member id that is not a community ID, refused before any port is bound") {
    auto r = run_with("data_dir = \"n\"\n[[community]]\nrole = \"member\"\nid = \"0x03\"\n");
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("community[0].id \"0x03\" is not a community ID"));
    CHECK_FALSE(fs::exists(dir / "n" / "relay.key"));
  }
  SECTION("syntax error: file, line and column") {
    auto r = run_with("data_dir = \"n\"\n[relay\n");
    CHECK(r.code == 2);
    CHECK(r.err.find("node.toml:2:") != std::string::npos);
  }
  SECTION("a misspelt table or key: file, line, key and the likely one") {
    auto table = run_with("data_dir = \"n\"\n[torrnet]\nlisten = \"127.0.0.1:0\"\n" + member);
    CHECK(table.code == 2);
    CHECK_THAT(table.err, Catch::Contains("node.toml:2: unknown key torrnet (did you mean torrent?)"));
    auto key = run_with("data_dir = \"n\"\n[relay]\nmuxer = [\"/yamux/1.0.0\"]\n" + member);
    CHECK(key.code == 2);
    CHECK_THAT(key.err, Catch::Contains("node.toml:3: unknown key relay.muxer (did you mean muxers?)"));
    auto nested = run_with("data_dir = \"n\"\n" + member + "chanels = [\"a\"]\n");
    CHECK(nested.code == 2);
    CHECK_THAT(nested.err, Catch::Contains("unknown key community[0].chanels (did you mean channels?)"));
    auto discovery = run_with("data_dir = \"n\"\n[discovery]\npeer_exchnge = false\n" + member);
    CHECK(discovery.code == 2);
    CHECK_THAT(discovery.err, Catch::Contains("node.toml:3: unknown key discovery.peer_exchnge "
                                              "(did you mean peer_exchange?)"));
    auto target = run_with("data_dir = \"n\"\n[relay]\ntarget_peers = -1\n" + member);
    CHECK(target.code == 2);
    CHECK_THAT(target.err, Catch::Contains("node.toml:3: relay.target_peers must be 0..1000"));
    auto tree = run_with("data_dir = \"n\"\n[discovery]\ndns = [\"enrtree://KEY@nodes.test\"]\n"
                         + member);
    CHECK(tree.code == 2);
    CHECK_THAT(tree.err, Catch::Contains("node.toml:3: discovery.dns[0]: enrtree: the key is not "
                                         "base32"));
    auto server = run_with("data_dir = \"n\"\n[discovery]\ndns_server = \"dns.test:53\"\n"
                           + member);
    CHECK(server.code == 2);
    CHECK_THAT(server.err, Catch::Contains("node.toml:3: discovery.dns_server: \"dns.test:53\" is "
                                           "not IPv4:PORT"));
    auto udp = run_with("data_dir = \"n\"\n[discovery]\ndiscv5 = true\ndiscv5_listen = \"[::]:9000\"\n"
                        + member);
    CHECK(udp.code == 2);
    CHECK_THAT(udp.err, Catch::Contains("node.toml:4: discovery.discv5_listen: discv5 listen "
                                        "address \"[::]:9000\" is not IPv4:PORT"));
    auto boot = run_with("data_dir = \"n\"\n[discovery]\ndiscv5 = true\nbootstrap = [\"enr:-xyz\"]\n"
                         + member);
    CHECK(boot.code == 2);
    CHECK_THAT(boot.err, Catch::Contains("node.toml:4: discovery.bootstrap[0]: discv5 bootstrap "
                                         "record:"));
    auto off = run_with("data_dir = \"n\"\n[discovery]\nbootstrap = []\n"
                        "discv5_protocol_id = \"waku\"\n" + member);
    CHECK(off.code == 2);
    CHECK_THAT(off.err, Catch::Contains("node.toml:4: discovery.discv5_protocol_id must be 6 bytes"));
    CHECK_FALSE(fs::exists(dir / "n"));
  }
  SECTION("missing data_dir") {
    auto r = run_with(member);
    CHECK(r.code == 2);
    CHECK(r.err.find("data_dir is required") != std::string::npos);
  }
  SECTION("unknown muxer") {
    auto r = run_with("data_dir = \"n\"\n[relay]\nmuxers = [\"/spdy/3\"]\n" + member);
    CHECK(r.code == 2);
    CHECK(r.err.find("relay.muxers: unknown muxer /spdy/3") != std::string::npos);
  }
  SECTION("wrong type") {
    auto r = run_with("data_dir = \"n\"\n[relay]\ncluster = \"sixteen\"\n" + member);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("node.toml:3: relay.cluster has the wrong type: it must be "
                                      "an integer"));
  }
  SECTION("negative durations") {
    auto r = run_with("data_dir = \"n\"\n[archives]\nwelcome_gap = -1\n" + member);
    CHECK(r.code == 2);
    CHECK(r.err.find("archives.welcome_gap must not be negative") != std::string::npos);
  }
  SECTION("store settings: wrong types and non-positive retention") {
    auto serve = run_with("data_dir = \"n\"\n[store]\nserve = \"yes\"\n" + member);
    CHECK(serve.code == 2);
    CHECK_THAT(serve.err, Catch::Contains("store.serve has the wrong type"));
    auto age = run_with("data_dir = \"n\"\n[store]\nmax_age = 0\n" + member);
    CHECK(age.code == 2);
    CHECK_THAT(age.err, Catch::Contains("store.max_age must be positive"));
    auto count = run_with("data_dir = \"n\"\n[store]\nmax_messages = -5\n" + member);
    CHECK(count.code == 2);
    CHECK_THAT(count.err, Catch::Contains("store.max_messages must be positive"));
    auto typo = run_with("data_dir = \"n\"\n[store]\nmax_mesages = 5\n" + member);
    CHECK(typo.code == 2);
    CHECK_THAT(typo.err, Catch::Contains("did you mean max_messages?"));
  }
  SECTION("relay port in use") {
    auto sub = start_annals(dir, "sub", {"relay", "subscribe", "--seconds", "30"});
    auto addr = subscriber_address(*sub);
    auto taken = addr.substr(0, addr.find("/p2p/"));
    auto r = run_with("data_dir = \"n\"\n[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\n"
                      "[relay]\nlisten = [\"" + taken + "\"]\n" + member);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("node.toml:6: relay.listen: " + taken + " is in use"));
  }
}

namespace {

/// A TCP port on 127.0.0.1 this test holds listening: a node that tried to
/// bind it would fail with "Address already in use" (exit 1).
struct held_port {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  std::uint16_t port = 0;
  held_port() {
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    socklen_t size = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0);
    port = ntohs(addr.sin_port);
  }
  ~held_port() { ::close(fd); }
  std::string multiaddr() const { return "/ip4/127.0.0.1/tcp/" + std::to_string(port); }
};

} // namespace

TEST_CASE("annals run refuses a bad value before it binds a port, naming file, line and key",
          "[cli][run][config]") {
  temp_dir dir("run-values");
  held_port relay_port;
  auto owner_key = private_key::generate();
  auto owner = "[[community]]\nrole = \"owner\"\nkey = \"" + to_hex(owner_key.bytes())
               + "\"\nchannels = [\"general\"]\n";
  // Line 1 data_dir, 2 TOP, 3 [torrent], 4 torrent.listen, 5 [relay],
  // 6 relay.listen, 7 relay.peers, 8-11 the owner, 12- COMMUNITY.
  auto refused = [&](const std::string& torrent_listen, const std::string& relay_listen,
                     const std::string& peers, const std::string& top = "",
                     const std::string& community = "") {
    write_file(dir / "node.toml",
               "data_dir = \"n\"\n" + top + "\n[torrent]\nlisten = \"" + torrent_listen
                 + "\"\n[relay]\nlisten = [" + relay_listen + "]\npeers = [" + peers + "]\n" + owner
                 + community);
    auto r = run_annals("run --seconds 30 --config " + (dir / "node.toml").string(), dir);
    // A config error (2), not the held port's "Address already in use" (1):
    // nothing was bound, nothing created.
    CHECK(r.code == 2);
    CHECK_THAT(r.err, !Catch::Contains("already in use"));
    CHECK_FALSE(fs::exists(dir / "n"));
    return r.err;
  };
  const auto held = "\"" + relay_port.multiaddr() + "\"";
  const auto node = (dir / "node.toml").string();
  const auto peer = "/ip4/127.0.0.1/tcp/1/p2p/"
                    + p2p::peer_id::from_secp256k1(private_key::generate().public_key()).to_string();
  SECTION("the relay's port is taken: the node does get that far") {
    write_file(dir / "node.toml", "data_dir = \"n\"\n[torrent]\nlisten = \"127.0.0.1:0\"\n"
                                  "[relay]\nlisten = [" + held + "]\n" + owner);
    auto r = run_annals("run --seconds 30 --config " + node, dir);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("node.toml:5: relay.listen: " + relay_port.multiaddr()
                                      + " is in use"));
  }
  SECTION("torrent.listen") {
    CHECK_THAT(refused("127.0.0.1:65536", held, ""),
               Catch::Contains(node + ":4: torrent.listen: \"127.0.0.1:65536\": the port must be "
                               "0..65535"));
    CHECK_THAT(refused("localhost:0", held, ""),
               Catch::Contains(node + ":4: torrent.listen: \"localhost\" is not an IP address"));
    CHECK_THAT(refused("6881", held, ""), Catch::Contains(node + ":4: torrent.listen:"));
  }
  SECTION("relay.listen: every multiaddr") {
    CHECK_THAT(refused("127.0.0.1:0", held + ", \"/ip4/127.0.0.1/tcp/65536\"", ""),
               Catch::Contains(node + ":6: relay.listen[1]: multiaddr /ip4/127.0.0.1/tcp/65536"));
    CHECK_THAT(refused("127.0.0.1:0", held + ", \"/ip4/127.0.0.1/udp/1\"", ""),
               Catch::Contains(node + ":6: relay.listen[1]: multiaddr /ip4/127.0.0.1/udp/1"));
  }
  SECTION("relay.peers: a multiaddr with the /p2p/ ID Noise checks") {
    CHECK_THAT(refused("127.0.0.1:0", held, "\"" + peer + "\", \"/ip4/127.0.0.1/tcp/1\""),
               Catch::Contains(node + ":7: relay.peers[1]: multiaddr /ip4/127.0.0.1/tcp/1: needs "
                               "/p2p/<peer ID>"));
    CHECK_THAT(refused("127.0.0.1:0", held, "\"/ip4/127.0.0.1/tcp/1/p2p/notanid\""),
               Catch::Contains(node + ":7: relay.peers[0]: multiaddr /ip4/127.0.0.1/tcp/1/p2p/notanid"));
  }
  SECTION("relay.peers: an enr: record that verifies and gives a TCP address") {
    auto record = *parse_enr(test::js_waku_tcp_enr);
    auto forged = record.encoded;
    forged[10] ^= 1;
    CHECK_THAT(refused("127.0.0.1:0", held, "\"enr:" + to_base64url(forged) + "\""),
               Catch::Contains(node + ":7: relay.peers[0]: enr: `signature`"));
    CHECK_THAT(refused("127.0.0.1:0", held,
                       "\"" + peer + "\", \"" + std::string(test::js_waku_multiaddrs_enr) + "\""),
               Catch::Contains(node + ":7: relay.peers[1]: enr: peer ")
                 && Catch::Contains("gives no address a TCP relay can dial"));
  }
  SECTION("events: a file run can append to") {
    CHECK_THAT(refused("127.0.0.1:0", held, "", "events = \"absent/events.jsonl\""),
               Catch::Contains(node + ":2: events: " + (dir / "absent" / "events.jsonl").string()
                               + ": no directory"));
    fs::create_directories(dir / "a-directory");
    CHECK_THAT(refused("127.0.0.1:0", held, "", "events = \"a-directory\""),
               Catch::Contains(node + ":2: events: " + (dir / "a-directory").string()
                               + " is a directory"));
  }
  SECTION("an integer key given a float (a fuzzer's find: 7.7e26 was cast out of range)") {
    CHECK_THAT(refused("127.0.0.1:0", held, "]\nhandshake_timeout_ms = 777777777777777777777777750.0\n#"),
               Catch::Contains("relay.handshake_timeout_ms has the wrong type"));
  }
  SECTION("a community's key, and one role per community") {
    CHECK_THAT(refused("127.0.0.1:0", held, "", "",
                       "[[community]]\nrole = \"owner\"\nkey = \"zz\"\nchannels = [\"x\"]\n"),
               Catch::Contains(node + ":14: community[1].key is not a community private key"));
    CHECK_THAT(refused("127.0.0.1:0", held, "", "",
                       "[[community]]\nrole = \"member\"\nid = \""
                         + owner_key.public_key().community_id() + "\"\nchannels = [\"x\"]\n"),
               Catch::Contains("is both owned and joined"));
  }
  SECTION("an encrypted owner's keys_file: it must exist and parse") {
    CHECK_THAT(refused("127.0.0.1:0", held, "", "", "encrypted = true\nkeys_file = \"absent.jsonl\"\n"),
               Catch::Contains(node + ":13: community[0].keys_file: "
                               + (dir / "absent.jsonl").string() + ": no such keys file"));
    write_file(dir / "broken.jsonl", "{\"group_id\": \"0x01\"}\n");
    CHECK_THAT(refused("127.0.0.1:0", held, "", "", "encrypted = true\nkeys_file = \"broken.jsonl\"\n"),
               Catch::Contains(node + ":13: community[0].keys_file: "
                               + (dir / "broken.jsonl").string() + ":1: needs \"group_id\""));
  }
  SECTION("addresses for other hosts: external ones a peer can dial, DHT routers HOST:PORT") {
    CHECK_THAT(refused("127.0.0.1:0\"\nexternal_address = \"0.0.0.0:6881", held, ""),
               Catch::Contains(node + ":5: torrent.external_address: \"0.0.0.0:6881\" is not an "
                                      "address a peer can dial"));
    CHECK_THAT(refused("127.0.0.1:0\"\nexternal_address = \"203.0.113.7", held, ""),
               Catch::Contains(node + ":5: torrent.external_address: \"203.0.113.7\" is not "
                                      "IP:PORT"));
    CHECK_THAT(refused("127.0.0.1:0\"\ndht_bootstrap = [\"10.0.0.1:6881\", \"router\"]\n#", held,
                       ""),
               Catch::Contains(node + ":5: torrent.dht_bootstrap[1]: \"router\" is not HOST:PORT"));
    CHECK_THAT(refused("127.0.0.1:0", held, "]\nexternal_addresses = [\"/ip4/0.0.0.0/tcp/1\""),
               Catch::Contains(node + ":8: relay.external_addresses[0]: multiaddr "
                                      "/ip4/0.0.0.0/tcp/1: 0.0.0.0 and :: mean"));
    CHECK_THAT(refused("127.0.0.1:0", held, "]\nexternal_addresses = [\"/ip4/203.0.113.7/tcp/0\""),
               Catch::Contains("relay.external_addresses[0]: multiaddr /ip4/203.0.113.7/tcp/0: port 0"));
  }
  SECTION("store.verify_interval") {
    CHECK_THAT(refused("127.0.0.1:0", held, "", "[store]\nverify_interval = -1"),
               Catch::Contains(node + ":3: store.verify_interval must be 0..604800 seconds"));
  }
  SECTION("range errors name file, line and key") {
    CHECK_THAT(refused("127.0.0.1:0", held, "", "[archives]\ninterval = 0"),
               Catch::Contains(node + ":3: archives.interval must be positive"));
    CHECK_THAT(refused("127.0.0.1:0", held, "", "[archives]\nsettle = -1"),
               Catch::Contains(node + ":3: archives.settle must not be negative"));
    CHECK_THAT(refused("127.0.0.1:0", held, "", "[store]\nmax_age = 0"),
               Catch::Contains(node + ":3: store.max_age must be positive"));
  }
}

TEST_CASE("annals run: a member that connects after the announcement still gets the link",
          "[cli][run]") {
  temp_dir dir("run-late");
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  auto torrent = std::string("[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\ndht = false\n"
                             "advertise_address = true\n");
  write_file(dir / "owner.toml",
             "data_dir = \"owner\"\n" + torrent + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
               + "[archives]\ninterval = 2\nsettle = 1\n"
               + "[[community]]\nrole = \"owner\"\nkey = \"" + to_hex(owner_key.bytes()) + "\"\n"
               + "channels = [\"general\"]\n[community.traffic]\nmessages = 200\nrate = 5000\n");
  auto owner = start_annals(dir, "owner", {"run", "--config", (dir / "owner.toml").string()});
  auto listening = owner->wait_for_line(
    [](const std::string& l) { return l.find("relay: listening /ip4/") != std::string::npos; }, 20s);
  REQUIRE(listening);
  auto owner_addr = listening->substr(listening->find("/ip4/"));
  // Nobody hears this announcement...
  REQUIRE(owner->wait_for_line(
    [](const std::string& l) { return l.find("published the signed magnet link") != std::string::npos; },
    30s));
  // ...so the owner announces again when the member's relay connects.
  write_file(dir / "member.toml",
             "data_dir = \"member\"\n" + torrent + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
               + "peers = [\"" + owner_addr + "\"]\n"
               + "[[community]]\nrole = \"member\"\nid = \"" + community + "\"\n"
               + "channels = [\"general\"]\n");
  auto member = start_annals(dir, "member", {"run", "--config", (dir / "member.toml").string(),
                                             "--until-synced", "--seconds", "60"});
  auto code = member->wait(60s);
  INFO("member:\n" << member->out() << member->err());
  INFO("owner:\n" << owner->out() << owner->err());
  REQUIRE(code == std::optional<int>(0));
  CHECK(member->out().find("synced " + community) != std::string::npos);
  owner->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));
}

TEST_CASE("annals run: a token-gated community's encrypted archives sync to a member holding "
          "its keys",
          "[cli][run][hrkey]") {
  temp_dir dir("run-gated");
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  auto made = run_annals("hrkey new --community " + community + " --keys "
                           + (dir / "keys.jsonl").string(),
                         dir);
  INFO(made.err);
  REQUIRE(made.code == 0);
  auto key_id = trim(made.out);
  write_owner_and_member_configs(dir, owner_key, 200,
                                 "encrypted = true\nkeys_file = \"keys.jsonl\"\n",
                                 "keys_file = \"keys.jsonl\"\n",
                                 "events = \"member-events.jsonl\"\n");
  auto run = run_owner_and_member(dir);
  auto& owner = run.owner;
  INFO("member:\n" << run.member->out() << run.member->err());
  INFO("owner:\n" << owner->out() << owner->err());
  REQUIRE(run.member_code == std::optional<int>(0));
  auto [archives, messages] = synced_counts(*run.member, community);
  CHECK(archives >= 1);
  CHECK(messages >= 1);
  CHECK(read_file(dir / "member-events.jsonl").find("archiveKeyMissing") == std::string::npos);
  owner->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));

  // What the owner wrote is sealed: it opens with the keys only.
  auto owner_root = (dir / "owner").string();
  CHECK(run_annals("archive inspect " + owner_root + " --keys " + (dir / "keys.jsonl").string(), dir).code == 0);
  auto locked = run_annals("archive inspect " + owner_root, dir);
  CHECK(locked.code == 1);
  CHECK_THAT(locked.err, Catch::Contains(key_id));
}

TEST_CASE("annals run with events = \"-\": stdout holds the JSON events alone", "[cli][run]") {
  temp_dir dir("run-events");
  auto owner_key = private_key::generate();
  {
    std::ofstream f(dir / "node.toml");
    f << "data_dir = \"node\"\nevents = \"-\"\n"
      << "[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\n"
      << "[relay]\nmode = \"inprocess\"\n[archives]\ninterval = 2\nsettle = 1\n"
      << "[[community]]\nrole = \"owner\"\nkey = \"" << to_hex(owner_key.bytes()) << "\"\n"
      << "channels = [\"general\"]\n[community.traffic]\nmessages = 50\nrate = 1000\n";
  }
  auto r = run_annals("run --config " + (dir / "node.toml").string() + " --seconds 6", dir);
  INFO(r.err);
  CHECK(r.code == 0);
  std::istringstream lines(r.out);
  std::size_t events = 0;
  for (std::string line; std::getline(lines, line);) {
    CAPTURE(line);
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j.contains("type"));
    ++events;
  }
  CHECK(events >= 2);  // creating, created (or none), seeding, published
  CHECK_THAT(r.err, Catch::Contains("relay") && Catch::Contains("in-process relay"));
}

TEST_CASE("annals run --log-format json writes JSON lines; --log-level drops what is less severe",
          "[cli][run][log]") {
  temp_dir dir("run-log");
  // A static peer nobody listens for: its dial fails, a relay warning.
  held_port closed;
  auto absent = "/ip4/127.0.0.1/tcp/" + std::to_string(closed.port) + "/p2p/"
                + p2p::peer_id::from_secp256k1(private_key::generate().public_key()).to_string();
  ::close(std::exchange(closed.fd, -1));
  write_file(dir / "node.toml",
             "data_dir = \"node\"\n[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\n"
             "dht = false\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\npeers = [\"" + absent + "\"]\n"
             "[[community]]\nrole = \"owner\"\nkey = \"" + to_hex(private_key::generate().bytes())
               + "\"\nchannels = [\"general\"]\n");
  /// Runs the node until it logged the failed dial; its stdout's lines, each
  /// parsed (the logs go to stdout when events are not "-").
  auto run = [&](const std::string& level) {
    auto node = start_annals(dir, level, {"run", "--config", (dir / "node.toml").string(),
                                          "--log-format", "json", "--log-level", level});
    auto dial = node->wait_for_line(
      [](const std::string& l) { return l.find("tcp: Connection refused") != std::string::npos; },
      20s);
    INFO(node->out() << node->err());
    REQUIRE(dial);
    // (It may still be starting, before its SIGTERM handler: no exit code.)
    node->kill(SIGTERM);
    node->wait(20s);
    std::vector<nlohmann::json> lines;
    std::istringstream out(node->out());
    for (std::string line; std::getline(out, line);) {
      CAPTURE(line);
      auto j = nlohmann::json::parse(line, nullptr, false);
      REQUIRE(j.is_object());
      CHECK(j["time"].is_string());
      CHECK(j["component"].is_string());
      CHECK(j["message"].is_string());
      REQUIRE(j["level"].is_string());
      lines.push_back(j);
    }
    return lines;
  };
  auto count = [](const std::vector<nlohmann::json>& lines, const std::string& level) {
    return std::count_if(lines.begin(), lines.end(),
                         [&](const nlohmann::json& j) { return j["level"] == level; });
  };
  auto dial_warning = [&](const std::vector<nlohmann::json>& lines) {
    return std::any_of(lines.begin(), lines.end(), [&](const nlohmann::json& j) {
      return j["level"] == "warn" && j["component"] == "relay"
             && j["message"].get<std::string>().rfind("dial " + absent + ": tcp: ", 0) == 0;
    });
  };

  auto info = run("info");
  CHECK(count(info, "info") >= 1);  // "listening …", "owns community …"
  CHECK(count(info, "debug") == 0);  // the redial timer is debug
  CHECK(dial_warning(info));

  auto warn = run("warn");
  CHECK(count(warn, "info") == 0);
  CHECK(count(warn, "debug") == 0);
  CHECK(dial_warning(warn));

  auto debug = run("debug");
  CHECK(count(debug, "debug") >= 1);
}

namespace {

/// The REST address a `run` process printed ("rest: serving http://A:P ...").
std::string rest_address(child_process& node) {
  auto line = node.wait_for_line(
    [](const std::string& l) { return l.find("rest: serving http://") != std::string::npos; }, 20s);
  REQUIRE(line);
  auto from = line->find("http://") + 7;
  return line->substr(from, line->find(' ', from) - from);
}

nlohmann::json get_json(const std::string& address, const std::string& path, int status = 200) {
  auto reply = http_get(address, path);
  REQUIRE(reply);
  INFO(path << ": " << reply->head << "\n" << reply->body);
  CHECK(reply->status == status);
  return nlohmann::json::parse(reply->body);
}


} // namespace

TEST_CASE("annals run serves /health, /metrics and the community endpoints while a member syncs",
          "[cli][run][rest]") {
  temp_dir dir("run-rest");
  auto owner_key = private_key::generate();
  auto community = owner_key.public_key().community_id();
  write_owner_and_member_configs(dir, owner_key, 300);
  for (auto name : {"owner.toml", "member.toml"})
    write_file(dir / name, read_file(dir / name) + "[rest]\nlisten = \"127.0.0.1:0\"\n");

  auto member = start_annals(dir, "member", {"run", "--config", (dir / "member.toml").string(),
                                             "--seconds", "90", "--status-interval", "1"});
  auto listening = member->wait_for_line(
    [](const std::string& l) { return l.find("relay: listening /ip4/") != std::string::npos; }, 20s);
  INFO("member:\n" << member->out() << member->err());
  REQUIRE(listening);
  auto member_addr = listening->substr(listening->find("/ip4/"));
  auto member_rest = rest_address(*member);

  // Before the owner exists: healthy, the community known, nothing imported.
  auto health = get_json(member_rest, "/health");
  CHECK(health["status"] == "ok");
  CHECK(health["parts"]["relay"]["healthy"] == true);
  auto before = get_json(member_rest, "/archive/v1/communities");
  REQUIRE(before.size() == 1);
  CHECK(before[0]["role"] == "member");
  CHECK(before[0]["importedArchives"] == 0);
  auto metrics_before = http_get(member_rest, "/metrics")->body;
  CHECK(prometheus_sample(metrics_before, "annals_messages_stored{community=\"" + community
                                 + "\",role=\"member\"}") == 0);

  auto owner_text = read_file(dir / "owner.toml");
  owner_text.replace(owner_text.find("PEERS"), 5, "peers = [\"" + member_addr + "\"]");
  write_file(dir / "owner.toml", owner_text);
  auto owner = start_annals(dir, "owner", {"run", "--config", (dir / "owner.toml").string()});
  INFO("owner:\n" << owner->out() << owner->err());
  auto owner_rest = rest_address(*owner);

  // Scraped while it syncs: the counters move until it holds every message.
  nlohmann::json synced;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::set<double> imported_seen;
  while (std::chrono::steady_clock::now() < deadline) {
    synced = get_json(member_rest, "/archive/v1/communities/" + community);
    imported_seen.insert(prometheus_sample(http_get(member_rest, "/metrics")->body,
                                "annals_messages_imported_total{community=\"" + community + "\"}"));
    // Live relay messages alone can reach 300 before the first link: wait
    // for an archive too.
    if (synced["messages"] == 300 && synced["importedArchives"] >= 1
        && synced["archives"] == synced["importedArchives"])
      break;
    std::this_thread::sleep_for(200ms);
  }
  REQUIRE(synced["messages"] == 300);
  REQUIRE(synced["importedArchives"] >= 1);
  CHECK(synced["archiveList"].size() == synced["archives"]);
  CHECK_FALSE(synced["magnetlink"]["uri"].get<std::string>().empty());
  CHECK(synced["lastError"] == "");
  CHECK(imported_seen.size() >= 2);  // it was seen moving, not only at its end

  auto member_metrics = http_get(member_rest, "/metrics")->body;
  auto c = "{community=\"" + community + "\"}";
  CHECK(prometheus_sample(member_metrics, "annals_messages_imported_total" + c) == 300);
  CHECK(prometheus_sample(member_metrics, "annals_archives_downloaded_total" + c) >= 1);
  CHECK(prometheus_sample(member_metrics, "annals_links_accepted_total" + c) >= 1);
  CHECK(prometheus_sample(member_metrics, "annals_downloads_finished_total" + c) >= 1);
  CHECK(prometheus_sample(member_metrics, "annals_downloads_failed_total" + c) == 0);
  CHECK(prometheus_sample(member_metrics, "annals_relay_peers") == 1);
  // Below its target of 8, the member asked the owner for more peers; the
  // owner knows no record to give.
  CHECK(prometheus_sample(member_metrics, "annals_peer_exchange_queries_total{direction=\"out\"}")
        >= 1);
  CHECK(prometheus_sample(member_metrics,
                          "annals_discovery_peers_found_total{source=\"peer-exchange\"}")
        == 0);
  CHECK(prometheus_sample(member_metrics, "process_resident_memory_bytes") > 0);
  CHECK(member_metrics.find("# TYPE annals_archive_import_duration_seconds histogram")
        != std::string::npos);
  // Rates are gauges whose unit is in the name (bytes per second).
  CHECK(prometheus_sample(member_metrics, "annals_torrent_download_rate_bytes_per_second") >= 0);
  CHECK(member_metrics.find("annals_torrent_download_rate_bytes ") == std::string::npos);

  auto owner_metrics = http_get(owner_rest, "/metrics")->body;
  CHECK(prometheus_sample(owner_metrics, "annals_links_published_total" + c) >= 1);
  CHECK(prometheus_sample(owner_metrics, "annals_archives_built_total" + c) >= 1);
  CHECK(prometheus_sample(owner_metrics, "annals_messages_stored{community=\"" + community
                                + "\",role=\"owner\"}") == 300);
  CHECK(prometheus_sample(owner_metrics, "annals_relay_messages_out_total") >= 300);
  CHECK(prometheus_sample(owner_metrics, "annals_build_duration_seconds_count") >= 1);
  CHECK(prometheus_sample(owner_metrics, "annals_torrent_upload_rate_bytes_per_second") >= 0);

  // The owner sees the member as a relay peer that speaks Waku relay.
  auto peers = get_json(owner_rest, "/admin/v1/peers");
  REQUIRE(peers.size() == 1);
  CHECK(peers[0]["direction"] == "outbound");
  CHECK(peers[0]["source"] == "static");
  auto protocols = peers[0]["protocols"].get<std::vector<std::string>>();
  CHECK(std::count(protocols.begin(), protocols.end(), "/vac/waku/relay/2.0.0") == 1);
  auto info = get_json(member_rest, "/debug/v1/info");
  CHECK(peers[0]["peerId"] == info["peerId"]);
  CHECK(info["torrentListen"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
  CHECK(get_json(owner_rest, "/archive/v1/communities")[0]["role"] == "owner");
  get_json(owner_rest, "/archive/v1/communities/0x03", 400);
  get_json(owner_rest, "/nothing", 404);

  owner->kill(SIGTERM);
  member->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));
  CHECK(member->wait(20s) == std::optional<int>(0));
}

TEST_CASE("annals run refuses a malformed [rest] table before anything binds", "[cli][run][rest]") {
  temp_dir dir("run-rest-config");
  auto member = "[[community]]\nrole = \"member\"\nid = \""
                + private_key::generate().public_key().community_id() + "\"\n";
  write_file(dir / "a.toml", "data_dir = \"n\"\n[rest]\nlisten = \"localhost:8645\"\n" + member);
  auto name = run_annals("run --config " + (dir / "a.toml").string(), dir);
  CHECK(name.code == 2);
  CHECK_THAT(name.err, Catch::Contains("rest.listen: \"localhost\" is not an IP address"));
  write_file(dir / "b.toml", "data_dir = \"n\"\n[rest]\nlistne = \"127.0.0.1:1\"\n" + member);
  auto key = run_annals("run --config " + (dir / "b.toml").string(), dir);
  CHECK(key.code == 2);
  CHECK_THAT(key.err, Catch::Contains("unknown key rest.listne (did you mean listen?)"));
  CHECK_FALSE(fs::exists(dir / "n"));
}

TEST_CASE("annals run --check validates a config as run would, binding and writing nothing; a "
          "relative events file beside a config in the current directory is fine",
          "[cli][run]") {
  temp_dir dir("run-check");
  const std::string member = "[[community]]\nrole = \"member\"\nid = \""
                             + private_key::generate().public_key().community_id() + "\"\n";
  write_file(dir / "node.toml", "data_dir = \"n\"\nevents = \"events.jsonl\"\n" + member);
  // As an operator types it: in the config's directory, a bare file name.
  auto ok = run_program("cd " + dir.path().string() + " && " + std::string(ANNALS_BINARY),
                        "run --check --config node.toml", dir);
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::Contains("config ok: node.toml"));
  CHECK_THAT(ok.out, Catch::Contains("0 owned and 1 joined communities"));
  CHECK_FALSE(fs::exists(dir / "n"));
  CHECK_FALSE(fs::exists(dir / "events.jsonl"));
  write_file(dir / "node.toml", "data_dir = \"n\"\n[archives]\ninterval = \"weekly\"\n" + member);
  auto bad = run_annals("run --check --config " + (dir / "node.toml").string(), dir);
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("node.toml:3: archives.interval"));
  CHECK_FALSE(fs::exists(dir / "n"));
}

TEST_CASE("a second annals run on a data_dir in use is refused naming the first one's PID, "
          "before it binds anything",
          "[cli][run]") {
  temp_dir dir("run-lock");
  const std::string member = "[[community]]\nrole = \"member\"\nid = \""
                             + private_key::generate().public_key().community_id() + "\"\n";
  write_file(dir / "node.toml", "data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
                                  + member);
  auto first = start_annals(dir, "first", {"run", "--config", (dir / "node.toml").string()});
  REQUIRE(first->wait_for_line(
    [](const std::string& l) { return l.find("listening") != std::string::npos; }, 20s));
  auto pid = trim(read_file(dir / "n" / "annals.lock"));
  REQUIRE_FALSE(pid.empty());
  auto second = run_annals("run --config " + (dir / "node.toml").string(), dir);
  CHECK(second.code != 0);
  CHECK_THAT(second.err, Catch::Contains("is in use by another annals process (pid " + pid + ")"));
  CHECK(second.out.find("listening") == std::string::npos);
  first->kill(SIGTERM);
  auto first_code = first->wait(20s);
  INFO("first:\n" << first->out() << first->err());
  CHECK(first_code == std::optional<int>(0));
  // Once it is gone the directory is free again.
  auto third = start_annals(dir, "third", {"run", "--config", (dir / "node.toml").string()});
  CHECK(third->wait_for_line(
    [](const std::string& l) { return l.find("listening") != std::string::npos; }, 20s));
  third->kill(SIGTERM);
  CHECK(third->wait(20s) == std::optional<int>(0));
}

TEST_CASE("annals run names the listener, key and line of a taken port before anything "
          "listens",
          "[cli][run]") {
  namespace asio = boost::asio;
  asio::io_context io;
  // Another process's listener, and another's UDP socket.
  asio::ip::tcp::acceptor taken(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = std::to_string(taken.local_endpoint().port());
  asio::ip::udp::socket taken_udp(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto udp_port = std::to_string(taken_udp.local_endpoint().port());
  temp_dir dir("run-port");
  const std::string member = "[[community]]\nrole = \"member\"\nid = \""
                             + private_key::generate().public_key().community_id() + "\"\n";
  auto run_with = [&](const std::string& config) {
    write_file(dir / "node.toml", config);
    return run_annals("run --config " + (dir / "node.toml").string(), dir);
  };
  auto rest = run_with("data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
                       "[rest]\nlisten = \"127.0.0.1:" + port + "\"\n" + member);
  CHECK(rest.code != 0);
  CHECK_THAT(rest.err, Catch::Contains("node.toml:5: rest.listen: 127.0.0.1:" + port + " is in use"));
  CHECK(rest.out.find("listening") == std::string::npos);

  auto relay = run_with("data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\",\n"
                        "  \"/ip4/127.0.0.1/tcp/" + port + "\"]\n" + member);
  CHECK(relay.code != 0);
  CHECK_THAT(relay.err, Catch::Contains("node.toml:4: relay.listen: /ip4/127.0.0.1/tcp/" + port
                                        + " is in use"));
  CHECK(relay.out.find("listening") == std::string::npos);

  // libtorrent's port is TCP and uTP: a taken UDP port is named too.
  auto torrent = run_with("data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
                          "[torrent]\nlisten = \"127.0.0.1:" + udp_port + "\"\n" + member);
  CHECK(torrent.code != 0);
  CHECK_THAT(torrent.err, Catch::Contains("node.toml:5: torrent.listen: 127.0.0.1:" + udp_port
                                          + " is in use (udp port"));
}

TEST_CASE("SIGHUP reloads the config: new communities and static peers apply live, restart-only "
          "keys are named, a bad config is refused, the log file is reopened",
          "[cli][run][reload]") {
  temp_dir dir("run-reload");
  auto sub = start_annals(dir, "sub", {"relay", "subscribe", "--seconds", "120"});
  auto sub_addr = subscriber_address(*sub);
  auto sub_id = sub_addr.substr(sub_addr.find("/p2p/") + 5);
  auto community = [] {
    return "[[community]]\nrole = \"member\"\nid = \""
           + private_key::generate().public_key().community_id() + "\"\n";
  };
  auto first = community(), second = community();
  auto second_id = second.substr(second.find("id = \"") + 6);
  second_id = second_id.substr(0, second_id.find('"'));
  const auto head = std::string("data_dir = \"n\"\n[log]\nfile = \"node.log\"\n");
  write_file(dir / "node.toml",
             head + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n" + first);
  auto node = start_annals(dir, "node", {"run", "--config", (dir / "node.toml").string()});
  auto log_has = [&](const std::string& text) {
    return annals::test::eventually(
      [&] { return read_file(dir / "node.log").find(text) != std::string::npos; }, 20s);
  };
  // Progress and log lines go to the file named in [log] (beside the config).
  REQUIRE(log_has("listening"));
  CHECK(node->out().find("listening") == std::string::npos);

  // logrotate moves the file away, then sends SIGHUP with a new config.
  fs::rename(dir / "node.log", dir / "node.log.1");
  write_file(dir / "node.toml", head + "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/1\"]\npeers = [\""
                                  + sub_addr + "\"]\n" + first + second);
  node->kill(SIGHUP);
  REQUIRE(log_has("reloaded"));
  auto log = read_file(dir / "node.log");
  INFO(log);
  CHECK_THAT(log, Catch::Contains("joined community " + second_id + " (reload)"));
  CHECK_THAT(log, Catch::Contains("relay.listen changed: that takes a restart"));
  CHECK_THAT(log, Catch::Contains("static peer added: " + sub_addr));
  CHECK(log_has("connected " + sub_id));
  CHECK(read_file(dir / "node.log.1").find("reloaded") == std::string::npos);
  CHECK(node->running());

  // A config that does not validate is refused; the node runs on.
  write_file(dir / "node.toml", "data_dir = 5\n");
  node->kill(SIGHUP);
  CHECK(log_has("reload refused, the running config stays"));
  CHECK_THAT(read_file(dir / "node.log"), Catch::Contains("data_dir"));
  CHECK(node->running());
  node->kill(SIGTERM);
  CHECK(node->wait(20s) == std::optional<int>(0));
  CHECK_THAT(read_file(dir / "node.log"), Catch::Contains("stopping"));
}

TEST_CASE("annals run --log-format json ends a failed start with a JSON error line",
          "[cli][run]") {
  temp_dir dir("run-json-fatal");
  write_file(dir / "node.toml", "data_dir = 5\n");
  auto r = run_annals("run --log-format json --config " + (dir / "node.toml").string(), dir);
  CHECK(r.code == 2);
  INFO(r.err);
  auto line = r.err.substr(0, r.err.find('\n'));
  auto j = nlohmann::json::parse(line);
  CHECK(j["level"] == "error");
  CHECK_THAT(j["message"].get<std::string>(), Catch::Contains("data_dir"));
}

TEST_CASE("a member with no magnet link after link_patience says so in its status line, REST and "
          "/health (still 200)",
          "[cli][run][rest]") {
  temp_dir dir("run-patience");
  auto community = private_key::generate().public_key().community_id();
  write_file(dir / "node.toml",
             "data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
             "[archives]\nlink_patience = 1\n[rest]\nlisten = \"127.0.0.1:0\"\n"
             "[[community]]\nrole = \"member\"\nid = \"" + community + "\"\n");
  auto node = start_annals(dir, "node", {"run", "--config", (dir / "node.toml").string(),
                                         "--status-interval", "1", "--seconds", "60"});
  auto rest = rest_address(*node);
  const std::string warning = "no magnet link seen for this community since ";
  auto line = node->wait_for_line(
    [&](const std::string& l) { return l.find(warning) != std::string::npos; }, 20s);
  INFO(node->out() << node->err());
  REQUIRE(line);
  // Nobody to ask: no relay peers, no store peers.
  CHECK_THAT(*line, Catch::Contains("; peers: 0, store peers: 0"));
  auto health = get_json(rest, "/health");
  CHECK(health["status"] == "ok");
  auto warnings = health["communities"][community]["warnings"];
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0].get<std::string>(), Catch::StartsWith(warning));
  auto communities = get_json(rest, "/archive/v1/communities");
  REQUIRE(communities.size() == 1);
  CHECK(communities[0]["warnings"] == warnings);
  node->kill(SIGTERM);
  CHECK(node->wait(20s) == std::optional<int>(0));
}

TEST_CASE("the status page loads in headless Chromium with no console error, shows the "
          "community with the archive count REST gives, and receives signals over /events",
          "[cli][run][rest][browser]") {
  std::filesystem::path js = ANNALS_JS_DIR;
  if (!fs::exists(js / "node_modules" / "playwright-core"))
    FAIL("tests/js/node_modules lacks playwright-core: run scripts/setup.sh (npm ci in tests/js)");
  if (!fs::exists("/usr/bin/chromium"))
    FAIL("no /usr/bin/chromium: run scripts/setup.sh (Debian's chromium package)");
  temp_dir dir("run-status-page");
  auto key = private_key::generate();
  write_file(dir / "community.key", to_hex(key.bytes()));
  auto community = key.public_key().community_id();
  // Archives every 2 s: the owner builds, seeds and signals while the page
  // is open.
  write_file(dir / "owner.toml",
             "data_dir = \"n\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n"
             "[torrent]\nlisten = \"127.0.0.1:0\"\nloopback = true\n"
             "[archives]\ninterval = 2\nsettle = 1\n[rest]\nlisten = \"127.0.0.1:0\"\n"
             "[[community]]\nrole = \"owner\"\nkey_file = \"community.key\"\n"
             "channels = [\"general\"]\n[community.traffic]\nmessages = 200\n");
  auto owner = start_annals(dir, "owner", {"run", "--config", (dir / "owner.toml").string(),
                                           "--seconds", "90"});
  INFO("owner:\n" << owner->out() << owner->err());
  auto rest = rest_address(*owner);

  // The page and its assets: this origin only, nothing inline.
  auto page = http_get(rest, "/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK_THAT(page->head, Catch::Contains("Content-Security-Policy: default-src 'none'; "
                                         "script-src 'self'"));
  CHECK_THAT(page->body, Catch::Contains("<script src=\"/ui/app.js\" defer></script>"));
  CHECK(page->body.find("<script>") == std::string::npos);
  CHECK(page->body.find("style=") == std::string::npos);
  CHECK(http_get(rest, "/ui/app.js")->status == 200);

  // Kept with the test output (ctest runs in the build directory).
  auto shots = fs::current_path() / "test-output";
  fs::create_directories(shots);
  auto screenshot = shots / "status-page.png";
  fs::remove(screenshot);
  child_process browser({"node", "status-page.mjs", "http://" + rest + "/", community,
                               screenshot.string()},
                              dir / "browser.out", dir / "browser.err", {}, js);
  auto code = browser.wait(90s);
  INFO("browser:\n" << browser.out() << browser.err());
  REQUIRE(code == std::optional<int>(0));
  auto seen = nlohmann::json::parse(browser.out().substr(0, browser.out().find('\n')));
  CHECK(seen["community"] == true);
  CHECK(seen["consoleErrors"].empty());
  CHECK(seen["archivesOnPage"] == seen["archivesOverRest"]);
  CHECK(seen["signals"].get<int>() >= 1);
  CHECK(seen["charts"].get<int>() == 5);
  CHECK(fs::file_size(screenshot) > 10000);

  // The samples behind the charts, and the event stream's own framing.
  auto history = get_json(rest, "/debug/v1/history");
  CHECK(history["intervalSeconds"] == 10);
  REQUIRE(history["samples"].size() >= 1);
  CHECK(history["samples"][0]["memoryBytes"].get<double>() > 0);
  owner->kill(SIGTERM);
  CHECK(owner->wait(20s) == std::optional<int>(0));
}
