#include "optischema/actors/fingerprinter.hpp"

#include "optischema/analysis/json.hpp"

#include <chrono>

namespace optischema::actors {

fingerprinter_actor::behavior_type
fingerprinter(fingerprinter_actor::stateful_pointer<fingerprinter_state> self,
              size_t cache_capacity) {
  self->state.cache = fingerprint_cache{cache_capacity};
  return {
    [self](atom::fprint, const text_list& texts) {
      auto& st = self->state;
      auto start = std::chrono::steady_clock::now();
      fingerprint_list out;
      out.reserve(texts.size());
      for (auto& text : texts)
        out.push_back(st.cache.get(text));
      ++st.requests;
      st.busy_ms += std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      return out;
    },
    [self](atom::status) {
      auto& st = self->state;
      rapidjson::StringBuffer buf;
      json::writer w{buf};
      w.StartObject();
      json::key(w, "state");
      w.String("ok");
      json::key(w, "cached");
      w.Uint64(st.cache.size());
      json::key(w, "hits");
      w.Uint64(st.cache.hits());
      json::key(w, "misses");
      w.Uint64(st.cache.misses());
      json::key(w, "requests");
      w.Uint64(st.requests);
      json::key(w, "parse_ms");
      w.Double(st.busy_ms);
      w.EndObject();
      return json::text(buf);
    },
  };
}

} // namespace optischema::actors
