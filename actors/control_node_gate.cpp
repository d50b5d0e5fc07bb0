#include "actors/control_node_gate.hpp"

#include "core/log.hpp"
#include "net/torrent_file.hpp"
#include "storage/store.hpp"
#include "proto/waku_message.pb.h"

#include <caf/all.hpp>

namespace annals {

namespace {

using self_ptr = control_node_gate_actor::stateful_pointer<control_node_gate_state>;

/// The community's private key is held here: this node is its control node.
bool controls(self_ptr self, const public_key& community) {
  auto record = self->state.db->get_community(community);
  return record && *record && (*record)->private_key().size() == 32
         && (*record)->role() == record::Community::OWNER;
}

void publish(self_ptr self, const std::string& community, const std::string& magnet) {
  auto hash = magnet_info_hash(magnet).value_or(magnet);
  if (!self->state.publishing.insert(hash).second)
    return;
  self->request(self->state.publisher, caf::infinite, publish_atom::value, community, magnet)
    .then([self, hash](std::uint64_t) { self->state.publishing.erase(hash); },
          [self, hash, community](const caf::error& err) {
            self->state.publishing.erase(hash);
            ++self->state.publish_failures;
            log_error("gate", "publishing the magnet link of " + community
                                + " failed: " + self->system().render(err));
          });
}

/// What a republish or a welcome announces: the link seeded in this run,
/// else the one last published.
std::string link_to_repeat(self_ptr self, const std::string& community_id,
                           const public_key& community) {
  if (auto current = self->state.current_links.find(community_id);
      current != self->state.current_links.end())
    return current->second;
  auto info = self->state.db->get_archive_info(community);
  return info ? info->last_magnet_uri : std::string();
}

void arm_republish(self_ptr self, const std::string& community) {
  auto interval = self->state.config.republish_interval;
  if (interval == 0 || !self->state.republishing.insert(community).second)
    return;
  self->delayed_send(self, std::chrono::seconds(interval), republish_atom::value, community);
}

void reject(self_ptr self, const std::string& cause, const std::string& community_id,
            const std::string& detail) {
  ++self->state.rejections[{community_id, cause}];
  // Debug: strangers choose how often this happens; the counter and the
  // magnetlinkRejected signal carry it for operators.
  log_debug("gate", "magnet link of " + (community_id.empty() ? std::string("?") : community_id)
                     + " rejected: " + cause + ": " + detail);
  self->send(self->state.bus, publish_atom::value,
             signal{magnetlink_rejected{community_id, cause + ": " + detail}});
}

/// The member half: validate a magnet-link message, then hand it over.
void receive(self_ptr self, const waku_envelope& envelope) {
  auto& state = self->state;
  auto channel = state.channels.find(envelope.content_topic);
  if (channel == state.channels.end()) {
    reject(self, "unknown community", "", "content topic " + envelope.content_topic);
    return;
  }
  const auto& community = channel->second.community;
  const auto id = community.community_id();
  waku::WakuMessage message;
  if (!message.ParseFromString(envelope.message)) {
    reject(self, "malformed", id, "not a WakuMessage");
    return;
  }
  auto opened = open_magnetlink_waku_message(message, channel->second);
  if (!opened) {
    auto cause = opened.error().code == errc::verification_failed ? "forged" : "malformed";
    reject(self, cause, id, opened.error().message);
    return;
  }
  const auto& link = opened->message.link;
  auto record = state.db->get_community(community);
  if (!record || !*record || !(*record)->joined()) {
    reject(self, "unknown community", id, "not joined");
    return;
  }
  if (controls(self, community)) {
    reject(self, "own community", id, "this node is the community's control node");
    return;
  }
  auto info = state.db->get_archive_info(community);
  if (!info) {
    reject(self, "storage", id, info.error().to_string());
    return;
  }
  if (link.clock < info->magnetlink_clock) {
    reject(self, "stale", id, "clock " + std::to_string(link.clock) + " is older than "
                                + std::to_string(info->magnetlink_clock));
    return;
  }
  if (link.magnet_uri == info->last_magnet_uri) {
    reject(self, "duplicate", id, "this magnet link was processed already");
    return;
  }
  // As status-go: the clock is taken at once, the URI once the download ends,
  // so a link that failed to download is tried again when it is republished.
  if (auto saved = state.db->set_magnetlink_clock(community, link.clock); !saved) {
    reject(self, "storage", id, saved.error().to_string());
    return;
  }
  ++state.accepted[id];
  self->send(state.downloader, fetch_atom::value, id, link.magnet_uri, link.clock);
}

} // namespace

control_node_gate_actor::behavior_type
control_node_gate(control_node_gate_actor::stateful_pointer<control_node_gate_state> self,
                  control_node_gate_config config, std::shared_ptr<store> db,
                  magnetlink_publisher_actor publisher, relay_actor relay,
                  downloader_actor downloader, signal_bus_actor bus) {
  self->state.config = config;
  self->state.db = std::move(db);
  self->state.publisher = std::move(publisher);
  self->state.relay = std::move(relay);
  self->state.downloader = std::move(downloader);
  self->state.bus = std::move(bus);
  if (self->state.config.welcome_gap > 0)
    self->send(self, peers_atom::value);
  return {
    [self](const signal& s) {
      auto* seeding = caf::get_if<history_archives_seeding>(&s);
      if (seeding == nullptr)
        return;
      auto community = public_key::from_community_id(seeding->community_id);
      if (!community || !controls(self, *community))
        return;
      self->state.controlled.insert(seeding->community_id);
      self->state.current_links[seeding->community_id] = seeding->magnet_uri;
      arm_republish(self, seeding->community_id);
      auto info = self->state.db->get_archive_info(*community);
      if (info && !info->last_magnet_uri.empty()
          && magnet_info_hash(info->last_magnet_uri) == magnet_info_hash(seeding->magnet_uri))
        return;  // this torrent's link is out already
      publish(self, seeding->community_id, seeding->magnet_uri);
    },
    [self](republish_atom, const std::string& community_id) {
      self->state.republishing.erase(community_id);
      auto community = public_key::from_community_id(community_id);
      if (!community || !controls(self, *community))
        return;
      if (auto link = link_to_repeat(self, community_id, *community); !link.empty())
        publish(self, community_id, link);
      arm_republish(self, community_id);
    },
    [self](peers_atom) {
      // republishing holds the communities we control that have a link.
      auto poll_again = [self] {
        self->delayed_send(self, self->state.config.peer_poll, peers_atom::value);
      };
      self->request(self->state.relay, std::chrono::seconds(10), peers_atom::value)
        .then(
          [self, poll_again](const std::vector<std::string>& peers) {
            auto& st = self->state;
            auto now = std::chrono::steady_clock::now();
            // Newcomers since the last poll, including peers that come back.
            std::set<std::string> current(peers.begin(), peers.end());
            bool newcomer = false;
            for (const auto& p : current)
              newcomer = newcomer || !st.known_peers.count(p);
            st.known_peers = std::move(current);
            auto gap = std::chrono::seconds(st.config.welcome_gap);
            if (newcomer) {
              // One poll later, so the newcomer's topic subscription has
              // arrived; never closer than the gap to the last welcome.
              for (const auto& community_id : st.controlled) {
                auto due = now + st.config.peer_poll;
                if (auto last = st.welcomed.find(community_id); last != st.welcomed.end())
                  due = std::max(due, last->second + gap);
                st.welcome_due.emplace(community_id, due);  // an earlier due time stays
              }
            }
            for (auto it = st.welcome_due.begin(); it != st.welcome_due.end();) {
              if (it->second > now) {
                ++it;
                continue;
              }
              if (auto community = public_key::from_community_id(it->first)) {
                if (auto link = link_to_repeat(self, it->first, *community); !link.empty()) {
                  st.welcomed[it->first] = now;
                  publish(self, it->first, link);
                }
              }
              it = st.welcome_due.erase(it);
            }
            poll_again();
          },
          [poll_again](const caf::error&) { poll_again(); });
    },
    [self](const waku_envelope& envelope) { receive(self, envelope); },
    [self](join_atom, const std::string& community_id) -> caf::result<bool> {
      auto community = public_key::from_community_id(community_id);
      if (!community)
        return caf::make_error(caf::sec::invalid_argument, community.error().to_string());
      auto record = self->state.db->get_community(*community);
      if (!record || !*record)
        return caf::make_error(caf::sec::invalid_argument, "unknown community " + community_id);
      // Deriving the chat key costs 65356 PBKDF2 rounds: once per community.
      auto channel = magnetlink_channel::of(*community);
      auto topic = content_topic(channel.topic);
      self->state.channels.emplace(topic, std::move(channel));
      self->send(self->state.relay, subscribe_atom::value, community_pubsub_topic(**record),
                 std::vector<std::string>{topic}, caf::actor_cast<relay_sink_actor>(self));
      return true;
    },
    [self](status_atom) {
      auto& st = self->state;
      component_status out;
      out.component = "gate";
      out.state = std::to_string(st.controlled.size()) + " controlled, "
                  + std::to_string(st.channels.size()) + " joined";
      for (const auto& [community, n] : st.accepted)
        out.counter("annals_links_accepted_total",
                    "Magnet links that passed every check and went to the downloader",
                    static_cast<double>(n), {"community", community});
      for (const auto& [key, n] : st.rejections)
        out.counter("annals_links_rejected_total", "Magnet-link messages refused, by reason",
                    static_cast<double>(n), {"community", key.first, "reason", key.second});
      out.counter("annals_links_publish_requests_failed_total",
                  "Publications the gate asked for that failed",
                  static_cast<double>(st.publish_failures));
      return out;
    },
  };
}

} // namespace annals
