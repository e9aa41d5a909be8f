#include "optischema/actors/broker.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/util/logging.hpp"

namespace optischema::actors {

broker_actor::behavior_type
broker(broker_actor::stateful_pointer<broker_state> self,
       broker::nats_options opts) {
  auto client = broker::nats_client::create(std::move(opts));
  if (client)
    self->state.client = std::move(*client);
  else
    self->state.error = client.error();
  return {
    [self](atom::publish, const event& ev) {
      if (self->state.client)
        self->state.client->publish(subject(ev), to_json(ev));
    },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      rapidjson::StringBuffer buf;
      json::writer w{buf};
      w.StartObject();
      if (!st.client) {
        auto state = health::down;
        json::field(w, "state", to_string(state));
        json::key(w, "error");
        json::write(w, *st.error);
        w.EndObject();
        return status_report{state, json::text(buf)};
      }
      auto s = st.client->stats();
      // "connected" is healthy; anything else degrades the engine's status.
      auto state = s.state == "connected" ? health::ok : health::degraded;
      json::field(w, "state", to_string(state));
      json::field(w, "connection", s.state);
      json::field(w, "url", s.url);
      json::field(w, "published", s.published);
      json::field(w, "buffered", s.buffered);
      json::field(w, "dropped", s.dropped);
      json::field(w, "disconnects", s.disconnects);
      json::field(w, "reconnects", s.reconnects);
      json::field(w, "jetstream", s.jetstream);
      json::field(w, "acknowledged", s.acknowledged);
      json::field(w, "unacknowledged", s.unacknowledged);
      json::field(w, "store_retries", s.store_retries);
      json::field(w, "unstored", s.unstored);
      json::field(w, "last_change", s.last_change_ms);
      if (!s.last_error.empty()) {
        json::field(w, "last_error", s.last_error);
      }
      w.EndObject();
      return status_report{state, json::text(buf)};
    },
  };
}

} // namespace optischema::actors
