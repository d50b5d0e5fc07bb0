#include "actors/control_node_gate.hpp"

#include "net/torrent_file.hpp"
#include "storage/store.hpp"

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
            caf::aout(self) << "gate: publishing the magnet link of " << community
                            << " failed: " << self->system().render(err) << "\n";
          });
}

void arm_republish(self_ptr self, const std::string& community) {
  auto interval = self->state.config.republish_interval;
  if (interval == 0 || !self->state.republishing.insert(community).second)
    return;
  self->delayed_send(self, std::chrono::seconds(interval), republish_atom::value, community);
}

} // namespace

control_node_gate_actor::behavior_type
control_node_gate(control_node_gate_actor::stateful_pointer<control_node_gate_state> self,
                  control_node_gate_config config, std::shared_ptr<store> db,
                  magnetlink_publisher_actor publisher) {
  self->state.config = config;
  self->state.db = std::move(db);
  self->state.publisher = std::move(publisher);
  return {
    [self](const signal& s) {
      auto* seeding = caf::get_if<history_archives_seeding>(&s);
      if (seeding == nullptr)
        return;
      auto community = public_key::from_community_id(seeding->community_id);
      if (!community || !controls(self, *community))
        return;
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
      auto info = self->state.db->get_archive_info(*community);
      if (info && !info->last_magnet_uri.empty())
        publish(self, community_id, info->last_magnet_uri);
      arm_republish(self, community_id);
    },
  };
}

} // namespace annals
