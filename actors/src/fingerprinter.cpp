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
    [self](atom::status) -> status_report {
      auto& st = self->state;
      auto state = health::ok;
      return make_status(state, [&](json::writer& w) {
        json::field(w, "cached", st.cache.size());
        json::field(w, "hits", st.cache.hits());
        json::field(w, "misses", st.cache.misses());
        json::field(w, "requests", st.requests);
        json::field(w, "parse_ms", st.busy_ms);
      });
    },
  };
}

} // namespace optischema::actors
