// `optischema alerts`: the design card's "NATS subscribers for alerts". A
// durable JetStream consumer of every engine's `alert` events: what fired
// while it was stopped comes when it is back, and an event is acknowledged
// only once every sink took it (stdout, a webhook, Slack, Alertmanager), so
// nothing is lost on the way. Delivery is at least once: a sink that fails
// after another took the batch gets it again with the others.

#include "cli.hpp"

#include "optischema/analysis/alert_notice.hpp"
#include "optischema/broker/alert_feed.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/logging.hpp"

#include <cpprest/http_client.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

namespace optischema::app {

namespace {

std::atomic<bool> stopping{false};

extern "C" void on_stop_signal(int) {
  stopping = true;
}

/// An HTTP sink: where, how its body reads, and its name for the log (the
/// URL itself may hold a secret: Slack's webhook path is one).
struct sink {
  std::string name;
  std::string url;
  std::function<std::string(const alert_batch&)> body;
};

/// http(s)://… only. The scheme and host, for the log.
expected<std::string> check_url(const std::string& flag,
                                const std::string& url) {
  try {
    web::uri u{url};
    if ((u.scheme() != "http" && u.scheme() != "https") || u.host().empty())
      throw std::invalid_argument{"not http"};
    return u.scheme() + "://" + u.host();
  } catch (const std::exception&) {
    return failure{ec::invalid_configuration,
                   flag + " must be an http:// or https:// URL"};
  }
}

/// POSTs `body`, waiting up to `timeout`; the status, or why there is
/// none.
expected<unsigned> post(const sink& s, const std::string& body,
                        std::chrono::milliseconds timeout) {
  try {
    web::http::client::http_client_config cfg;
    cfg.set_timeout(timeout);
    web::http::client::http_client client{s.url, cfg};
    web::http::http_request req{web::http::methods::POST};
    req.set_body(body, "application/json");
    return client.request(req).get().status_code();
  } catch (const std::exception& e) {
    return failure{ec::timeout, e.what()};
  }
}

/// Delivers `batch` to `s`, trying `attempts` times with a doubling pause;
/// tells JetStream the work goes on meanwhile, well within its ack wait
/// (else it would deliver the batch again while a sink retries). False when
/// it never got a 2xx (or the subscriber is stopping).
bool deliver(const sink& s, const alert_batch& batch, broker::alert_delivery& d,
             int attempts, std::chrono::milliseconds wait,
             std::chrono::milliseconds ack_wait) {
  using std::chrono::milliseconds;
  auto body = s.body(batch);
  auto timeout = std::clamp(ack_wait / 2, milliseconds{500},
                            milliseconds{10'000});
  auto tick = std::min(ack_wait / 4, milliseconds{5'000});
  for (int i = 1; i <= attempts && !stopping; ++i) {
    d.in_progress();
    auto status = post(s, body, timeout);
    if (status && *status >= 200 && *status < 300)
      return true;
    OPTISCHEMA_WARN("alerts: {} refused the alerts of {} ({}), try {} of {}",
                    s.name, batch.target,
                    status ? fmt::format("HTTP {}", *status)
                           : status.error().message,
                    i, attempts);
    if (i == attempts)
      break;
    // Sleep in small steps, so a stop is not held up.
    auto since_told = milliseconds{0};
    for (auto slept = milliseconds{0}; slept < wait && !stopping;
         slept += milliseconds{50}, since_told += milliseconds{50}) {
      if (since_told >= tick) {
        d.in_progress();
        since_told = milliseconds{0};
      }
      std::this_thread::sleep_for(milliseconds{50});
    }
    wait = std::min(wait * 2, milliseconds{30'000});
  }
  return false;
}

} // namespace

int alerts(const alerts_flags& f) {
  if (f.nats.empty()) {
    std::fprintf(stderr,
                 "optischema alerts: --nats URL is required (the "
                 "engines' --nats)\n");
    return 2;
  }
  alert_filter filter;
  filter.targets = f.targets;
  filter.rules = f.rules;
  auto sev = parse_alert_severity(f.min_severity);
  auto wait = parse_duration(f.retry_wait);
  auto ack_wait = parse_duration(f.ack_wait);
  if (!sev || !wait || !ack_wait || *ack_wait < std::chrono::seconds{1}
      || (f.format != "text" && f.format != "json" && f.format != "none")
      || f.attempts < 1) {
    std::fprintf(stderr,
                 "optischema alerts: --min-severity must be info, "
                 "warning or critical, --format text, json or none, "
                 "--retry-wait a duration, --ack-wait a duration of 1s "
                 "or more, --attempts at least 1\n");
    return 2;
  }
  filter.min_severity = *sev;
  std::vector<sink> sinks;
  auto dashboard = f.dashboard_url;
  auto add = [&](const char* flag, const std::string& url,
                 std::function<std::string(const alert_batch&)> body) {
    if (url.empty())
      return true;
    auto name = check_url(flag, url);
    if (!name) {
      std::fprintf(stderr, "optischema alerts: %s\n",
                   name.error().message.c_str());
      return false;
    }
    sinks.push_back(
      {std::string{flag + 2} + " " + *name, url, std::move(body)});
    return true;
  };
  if (!add("--webhook", f.webhook, alert_json)
      || !add("--slack", f.slack,
              [dashboard](auto& b) { return slack_payload(b, dashboard); })
      || !add("--alertmanager",
              f.alertmanager.empty() ? "" : f.alertmanager + "/api/v2/alerts",
              [dashboard](auto& b) {
                return alertmanager_payload(b, dashboard);
              }))
    return 2;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  broker::alert_feed_options opts;
  opts.url = f.nats;
  opts.stream = f.nats_stream;
  opts.durable = f.durable;
  opts.replay = f.replay;
  opts.ack_wait = *ack_wait;
  std::unique_ptr<broker::alert_feed> feed;
  // NATS away at the start is waited for, like anything else away.
  for (std::string last; !feed && !stopping;) {
    auto opened = broker::alert_feed::open(opts);
    if (opened) {
      feed = std::move(*opened);
      break;
    }
    if (opened.error().code == ec::invalid_configuration) {
      std::fprintf(stderr, "optischema alerts: %s\n",
                   opened.error().message.c_str());
      return 2;
    }
    if (opened.error().message != last)
      OPTISCHEMA_WARN("alerts: {}; trying again every 2 s",
                      last = opened.error().message);
    std::this_thread::sleep_for(std::chrono::seconds{2});
  }
  if (!feed)
    return 0;
  OPTISCHEMA_INFO("alerts: following stream {} as consumer {} ({} sink(s) "
                  "besides stdout)",
                  f.nats_stream, f.durable, sinks.size());
  std::string last_error;
  while (!stopping) {
    auto got = feed->fetch(64, std::chrono::milliseconds{500});
    if (!got) {
      if (got.error().message != last_error)
        OPTISCHEMA_WARN("alerts: {}", last_error = got.error().message);
      std::this_thread::sleep_for(std::chrono::seconds{1});
      continue;
    }
    last_error.clear();
    for (auto& d : *got) {
      if (stopping) {
        d->retry_later(std::chrono::milliseconds{0});
        continue;
      }
      auto batch = read_alert_event(d->data());
      if (!batch) {
        // Not an alert event of ours: it would never read better.
        OPTISCHEMA_WARN("alerts: skipped a message on {}: {}", d->subject(),
                        batch.error().message);
        (void)d->ack();
        continue;
      }
      auto mine = filtered(std::move(*batch), filter);
      if (mine.alerts.empty()) {
        (void)d->ack();
        continue;
      }
      if (f.format == "text")
        std::fputs(alert_text(mine).c_str(), stdout);
      else if (f.format == "json")
        std::fputs((alert_json(mine) + "\n").c_str(), stdout);
      std::fflush(stdout);
      auto all = true;
      for (auto& s : sinks)
        all = deliver(s, mine, *d, f.attempts, *wait, *ack_wait) && all;
      if (!all) {
        // Later, after what comes behind it: JetStream delivers it again.
        d->retry_later(std::chrono::seconds{30});
        continue;
      }
      if (auto acked = d->ack(); !acked)
        OPTISCHEMA_WARN("alerts: {}", acked.error().message);
    }
  }
  OPTISCHEMA_INFO("alerts: stopped; what was not acknowledged comes again "
                  "at the next start");
  return 0;
}

} // namespace optischema::app
