#include "actors/control_node_gate.hpp"

#include <annals/log.hpp>
#include "net/torrent_file.hpp"
#include "storage/store.hpp"
#include "proto/waku_message.pb.h"

#include <caf/all.hpp>

namespace annals {

namespace {

using self_ptr = control_node_gate_actor::stateful_pointer<control_node_gate_state>;

/// The community's private key is held here: this node is its control node.
bool controls(store& db, const public_key& community) {
  auto record = db.get_community(community);
  return record && *record && (*record)->private_key().size() == 32
         && (*record)->role() == record::Community::OWNER;
}

/// What the owner half needs of the store, read in one job.
struct owner_view {
  bool controls = false;
  std::string last_magnet_uri;  // the link last published
};

owner_view read_owner_view(store& db, const public_key& community) {
  owner_view out;
  out.controls = controls(db, community);
  if (auto info = db.get_archive_info(community))
    out.last_magnet_uri = info->last_magnet_uri;
  return out;
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

/// Announces the community's link again (a republish, a welcome): the link
/// seeded in this run, else the one last published; only where this node
/// is the control node.
void repeat_link(self_ptr self, const std::string& community_id) {
  auto community = public_key::from_community_id(community_id);
  if (!community)
    return;
  off_scheduler(
    self, self->state.config.io,
    [db = self->state.db, key = *community] { return read_owner_view(*db, key); },
    [self, community_id](const owner_view& view) {
      if (!view.controls)
        return;
      auto current = self->state.current_links.find(community_id);
      auto link = current != self->state.current_links.end() ? current->second
                                                             : view.last_magnet_uri;
      if (!link.empty())
        publish(self, community_id, link);
    });
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
  // The checks against what the store holds, and taking the clock, are one
  // job: links handled one after the other see each other's clocks.
  struct verdict {
    std::string cause;  // empty: accepted
    std::string detail;
  };
  auto link = opened->message.link;
  off_scheduler(
    self, state.config.io,
    [db = state.db, community, link]() -> verdict {
      auto record = db->get_community(community);
      if (!record || !*record || !(*record)->joined())
        return {"unknown community", "not joined"};
      if (controls(*db, community))
        return {"own community", "this node is the community's control node"};
      auto info = db->get_archive_info(community);
      if (!info)
        return {"storage", info.error().to_string()};
      if (link.clock < info->magnetlink_clock)
        return {"stale", "clock " + std::to_string(link.clock) + " is older than "
                           + std::to_string(info->magnetlink_clock)};
      if (link.magnet_uri == info->last_magnet_uri)
        return {"duplicate", "this magnet link was processed already"};
      // As status-go: the clock is taken at once, the URI once the download
      // ends, so a link that failed to download is tried again when it is
      // republished.
      if (auto saved = db->set_magnetlink_clock(community, link.clock); !saved)
        return {"storage", saved.error().to_string()};
      return {};
    },
    [self, id, link](const verdict& v) {
      // A signed link the node already has (or an older one) still tells
      // it what the community's newest is.
      bool tells_newest = v.cause.empty() || v.cause == "stale" || v.cause == "duplicate";
      if (!v.cause.empty())
        reject(self, v.cause, id, v.detail);
      else {
        ++self->state.accepted[id];
        self->send(self->state.downloader, fetch_atom::value, id, link.magnet_uri, link.clock);
      }
      if (tells_newest)
        self->send(self->state.downloader, checked_atom::value, id);
    });
}

/// Sends the welcomes that are due, and sets a timer for the next one.
void send_welcomes(self_ptr self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> next;
  for (auto it = st.welcome_due.begin(); it != st.welcome_due.end();) {
    if (it->second > now) {
      next = next ? std::min(*next, it->second) : it->second;
      ++it;
      continue;
    }
    st.welcomed[it->first] = now;
    repeat_link(self, it->first);
    it = st.welcome_due.erase(it);
  }
  if (next && !st.welcome_armed) {
    st.welcome_armed = true;
    self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(*next - now)
                               + std::chrono::milliseconds(1),
                       tick_atom::value);
  }
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
    self->send(self->state.relay, subscribe_atom::value, peers_atom::value,
               caf::actor_cast<relay_peer_sink_actor>(self));
  return {
    [self](seed_atom, const std::string& community_id, const std::string& seeded_magnet) {
      auto community = public_key::from_community_id(community_id);
      if (!community)
        return;
      off_scheduler(
        self, self->state.config.io,
        [db = self->state.db, key = *community] { return read_owner_view(*db, key); },
        [self, id = community_id, magnet = seeded_magnet](const owner_view& view) {
          if (!view.controls)
            return;
          self->state.controlled.insert(id);
          self->state.current_links[id] = magnet;
          arm_republish(self, id);
          if (!view.last_magnet_uri.empty()
              && magnet_info_hash(view.last_magnet_uri) == magnet_info_hash(magnet))
            return;  // this torrent's link is out already
          publish(self, id, magnet);
        });
    },
    [self](republish_atom, const std::string& community_id) {
      self->state.republishing.erase(community_id);
      repeat_link(self, community_id);
      if (self->state.controlled.count(community_id))
        arm_republish(self, community_id);
    },
    [self](const relay_peer_event& event) {
      // A newcomer (or a peer that came back) hears the current links once
      // its topic subscription has arrived, never closer than the gap to
      // the last welcome of a community.
      auto& st = self->state;
      if (!event.connected || st.config.welcome_gap == 0)
        return;
      auto now = std::chrono::steady_clock::now();
      auto gap = std::chrono::seconds(st.config.welcome_gap);
      for (const auto& community_id : st.controlled) {
        auto due = now + st.config.welcome_delay;
        if (auto last = st.welcomed.find(community_id); last != st.welcomed.end())
          due = std::max(due, last->second + gap);
        st.welcome_due.emplace(community_id, due);  // an earlier due time stays
      }
      send_welcomes(self);
    },
    [self](tick_atom) {
      self->state.welcome_armed = false;
      send_welcomes(self);
    },
    [self](const waku_envelope& envelope) { receive(self, envelope); },
    [self](checked_atom, const std::string& community_id) {
      // Behind the verdicts of the links that sync found (the storage
      // thread takes jobs in order), so any fetch they start reaches the
      // downloader first.
      off_scheduler(self, self->state.config.io, [] {},
                    [self, community_id] {
                      self->send(self->state.downloader, checked_atom::value, community_id);
                    });
    },
    [self](join_atom, const std::string& community_id) -> caf::result<bool> {
      auto community = public_key::from_community_id(community_id);
      if (!community)
        return caf::make_error(caf::sec::invalid_argument, community.error().to_string());
      auto promise = self->make_response_promise<bool>();
      // The channel is known at once: a link a store sync finds may arrive
      // before the record is read. Deriving its key costs 65356 PBKDF2
      // rounds, once per community.
      auto channel = magnetlink_channel::of(*community);
      auto topic = content_topic(channel.topic);
      self->state.channels.emplace(topic, std::move(channel));
      off_scheduler(
        self, self->state.config.io,
        [db = self->state.db, key = *community]() -> std::optional<std::string> {
          auto record = db->get_community(key);
          if (!record || !*record)
            return std::nullopt;
          return community_pubsub_topic(**record);
        },
        [self, promise, community_id, topic](std::optional<std::string> pubsub_topic) mutable {
          if (!pubsub_topic) {
            self->state.channels.erase(topic);
            promise.deliver(caf::make_error(caf::sec::invalid_argument,
                                            "unknown community " + community_id));
            return;
          }
          self->send(self->state.relay, subscribe_atom::value, *pubsub_topic,
                     std::vector<std::string>{topic}, caf::actor_cast<relay_sink_actor>(self));
          promise.deliver(true);
        });
      return promise;
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
