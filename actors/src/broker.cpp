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
    [self](atom::status) {
      auto& st = self->state;
      rapidjson::StringBuffer buf;
      json::writer w{buf};
      w.StartObject();
      if (!st.client) {
        json::key(w, "state");
        w.String("down");
        json::key(w, "error");
        json::write(w, *st.error);
        w.EndObject();
        return json::text(buf);
      }
      auto s = st.client->stats();
      json::key(w, "state");
      // "connected" is healthy; anything else degrades the engine's status.
      w.String(s.state == "connected" ? "ok" : "degraded");
      json::key(w, "connection");
      json::str(w, s.state);
      json::key(w, "url");
      json::str(w, s.url);
      json::key(w, "published");
      w.Uint64(s.published);
      json::key(w, "buffered");
      w.Uint64(s.buffered);
      json::key(w, "dropped");
      w.Uint64(s.dropped);
      json::key(w, "disconnects");
      w.Uint64(s.disconnects);
      json::key(w, "reconnects");
      w.Uint64(s.reconnects);
      json::key(w, "jetstream");
      w.Bool(s.jetstream);
      json::key(w, "last_change");
      w.Int64(s.last_change_ms);
      if (!s.last_error.empty()) {
        json::key(w, "last_error");
        json::str(w, s.last_error);
      }
      w.EndObject();
      return json::text(buf);
    },
  };
}

} // namespace optischema::actors
