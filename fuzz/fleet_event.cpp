// What other engines of a fleet (and anyone else who can publish on NATS)
// send: events relayed to WebSocket clients (parse_event,
// messages/src/event.cpp) and the metrics events a new owner reads back as
// history (read_metrics_payload, analysis/src/history_slice.cpp), and the
// hours they roll up for the fleet (rollup_payload).
//
// Input: the NATS subject up to the first newline, then the message.

#include "fuzz.hpp"

#include "optischema/analysis/history_slice.hpp"
#include "optischema/messages/event.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/strings.hpp"

#include <cmath>

using namespace optischema;

namespace {

void check_slice(std::string_view payload) {
  auto slice = read_metrics_payload(payload);
  if (!slice)
    return;
  fuzz::require(slice->ts_ms > 0 && slice->interval_ms > 0,
                "a slice has its time and interval");
  auto& db = slice->db;
  fuzz::require(db.calls >= 0 && db.xact_commit >= 0 && db.blks_read >= 0
                  && std::isfinite(db.exec_time_ms) && db.exec_time_ms >= 0,
                "a slice's database figures are counts");
  for (auto& st : slice->statements)
    fuzz::require(!st.fingerprint.empty() && st.delta.calls >= 0
                    && std::isfinite(st.delta.exec_time_ms)
                    && st.delta.exec_time_ms >= 0 && valid_utf8(st.query),
                  "a slice's statements have fingerprints, counts and "
                  "UTF-8 texts");
  // What an engine publishes as a roll-up of it reads back (the counts
  // exactly; times may differ in their last digit, as above).
  auto again = read_metrics_payload(rollup_payload(slice->target, *slice));
  fuzz::require(again && again->target == slice->target
                  && again->ts_ms == slice->ts_ms
                  && again->db.calls == slice->db.calls
                  && again->statements.size() == slice->statements.size(),
                "a roll-up reads back");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = fuzz::text(data, size);
  auto nl = text.find('\n');
  auto subject = text.substr(0, nl);
  auto body = nl == std::string_view::npos ? std::string_view{}
                                           : text.substr(nl + 1);
  if (auto ev = parse_event(subject, body)) {
    // What the WebSocket sends: one JSON object, in UTF-8, that reads back
    // as an event of the same type, target and time under the same subject
    // (the payload's numbers may differ in their last digit: RapidJSON's
    // default parse is not correctly rounded, browsers' is).
    auto frame = to_json(*ev);
    fuzz::require(valid_utf8(frame), "a relayed frame is UTF-8");
    rapidjson::Document d;
    fuzz::require(static_cast<bool>(json::parse(d, frame)) && d.IsObject(),
                  "a relayed frame is a JSON object");
    auto again = parse_event(subject, frame);
    fuzz::require(again && again->type == ev->type
                    && again->target == ev->target && again->ts_ms == ev->ts_ms,
                  "a relayed frame reads back");
    check_slice(ev->payload);
  }
  check_slice(body);
  return 0;
}
