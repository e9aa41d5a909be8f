#pragma once

// What the alert subscriber (`optischema alerts`) does with an `alert`
// event, free of I/O: reads it (bytes from NATS: hostile), keeps the alerts
// its filters pass, and renders them for each sink: a text line, JSON
// lines, a webhook's JSON, Slack's incoming-webhook blocks, Prometheus
// Alertmanager's v2 alerts. The ALERTER reads the alerts it stored back
// with the same reader.

#include "optischema/analysis/alerts.hpp"
#include "optischema/util/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// The alerts one poll of one target fired or resolved: one notification.
struct alert_batch {
  std::string target;
  int64_t ts_ms = 0;
  std::vector<alert> alerts;
};

/// The alerts of one target firing when the ALERTER last changed them, as
/// the STORE keeps them: a restart takes them up again instead of firing
/// them anew (a second notification) or never resolving them.
struct stored_alerts {
  std::string target;
  std::vector<alert> firing;
  /// alert_rules::grouped(): regressions never announced on their own.
  std::vector<std::string> grouped;
  /// Ids fired under a silence and not announced yet.
  std::vector<std::string> held_back;
};

std::string stored_alerts_json(const stored_alerts& x);

/// Reads stored_alerts_json() back, with the same bounds as an event (the
/// disk is no more trusted than NATS): fails (ec::bad_request) on anything
/// else.
expected<stored_alerts> read_stored_alerts(std::string_view json);

/// Reads an `alert` event as the engine publishes it on NATS
/// ({"type":"alert","target":…,"ts":…,"payload":{"target","ts","alerts"}}).
/// Fails (ec::bad_request, saying what is wrong) on anything else: another
/// type, a payload of another target, fields of the wrong type or size.
expected<alert_batch> read_alert_event(std::string_view json);

/// Which alerts a subscriber wants; empty lists take everything.
struct alert_filter {
  std::vector<std::string> targets;
  std::vector<std::string> rules;
  alert_severity min_severity = alert_severity::info;
  bool passes(const alert& a) const;
};

/// `batch` with only the alerts `f` passes (maybe none).
alert_batch filtered(alert_batch batch, const alert_filter& f);

/// One line per alert: "FIRING critical target rule: summary (id)".
std::string alert_text(const alert_batch& batch);

/// The batch as one JSON line ({"target","ts","alerts":[…]}): stdout's
/// --format json and the webhook's body.
std::string alert_json(const alert_batch& batch);

/// A Slack incoming-webhook message: a header and a section per alert,
/// with a link to the dashboard when `dashboard_url` is set.
std::string slack_payload(const alert_batch& batch,
                          const std::string& dashboard_url);

/// Prometheus Alertmanager's POST /api/v2/alerts body: one alert each,
/// labelled (alertname, target, rule, severity, fingerprint), a resolved
/// one with endsAt, so Alertmanager groups, silences and resolves them.
std::string alertmanager_payload(const alert_batch& batch,
                                 const std::string& dashboard_url);

} // namespace optischema
