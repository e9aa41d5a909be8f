#include "optischema/llm/client.hpp"

#include "optischema/util/logging.hpp"
#include "optischema/util/redact.hpp"
#include "optischema/util/strings.hpp"

#include "rate_limiter.hpp"
#include "wire.hpp"

#include <utility> // before Asio, which cpprest includes (feasibility.md G4)

#include <cpprest/http_client.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <random>
#include <semaphore>
#include <thread>

namespace optischema::llm {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace http = web::http;

/// What became of one HTTP attempt.
struct attempt {
  enum kind_t {
    /// The endpoint answered (any status).
    answered,
    /// No answer within the per-attempt timeout.
    timed_out,
    /// No connection, reset, TLS or DNS failure.
    unreachable,
  };
  kind_t kind = answered;
  unsigned status = 0;
  std::string body;
  std::string retry_after;
  std::string retry_after_ms;
  /// For timed_out and unreachable: cpprest's explanation.
  std::string what;
  /// Unreachable because the peer had closed the connection: typically a
  /// pooled keep-alive connection the server dropped while idle.
  bool stale = false;
};

bool is_retryable(unsigned status) {
  return status == 429 || status == 500 || status == 502 || status == 503
    || status == 504;
}

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size()
    && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Azure OpenAI takes the key in an api-key header (its deployment URLs
/// carry ?api-version=, which is why the query of base_url is kept).
bool is_azure(const std::string& host) {
  return ends_with(host, ".openai.azure.com")
    || ends_with(host, ".cognitiveservices.azure.com")
    || ends_with(host, ".services.ai.azure.com");
}

milliseconds ceil_ms(steady::duration x) {
  return std::chrono::ceil<milliseconds>(x);
}

std::string format_ms(milliseconds x) {
  if (x >= 10s)
    return std::to_string((x.count() + 500) / 1000) + " s";
  return std::to_string(x.count()) + " ms";
}

/// Full jitter (AWS architecture blog): uniform in [0, ceiling], so clients
/// that failed together do not retry together.
milliseconds jittered(milliseconds ceiling) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  if (ceiling <= 0ms)
    return 0ms;
  std::uniform_int_distribution<int64_t> dist{0, ceiling.count()};
  return milliseconds{dist(rng)};
}

class client_impl final : public client {
public:
  client_impl(llm_options opts, std::string origin, std::string request_uri,
              std::string endpoint, bool azure)
    : opts_(std::move(opts)), request_uri_(std::move(request_uri)),
      endpoint_(std::move(endpoint)), azure_(azure),
      slots_(static_cast<std::ptrdiff_t>(opts_.max_concurrency)),
      limiter_(opts_.requests_per_minute, opts_.tokens_per_minute) {
    http::client::http_client_config cfg;
    cfg.set_timeout(opts_.timeout);
    http_ = std::make_unique<http::client::http_client>(origin, cfg);
  }

  expected<chat_response> chat(const chat_request& req) override;

  client_stats stats() const override {
    std::lock_guard<std::mutex> guard{mtx_};
    return stats_;
  }

private:
  attempt send(const std::string& body);

  /// Text that came from the endpoint or from request data, made safe for
  /// messages and logs: the key (should an endpoint echo it) and anything
  /// else that looks like a secret are masked.
  std::string clean(std::string_view text) const;

  /// The delay before retry number `retry` (0-based) after `a`.
  milliseconds retry_delay(const attempt& a, int retry) const;

  /// Describes an answer that ends the call (4xx other than 429).
  std::string refusal(const attempt& a) const;

  /// Explains a call refused by the local limits.
  std::string rate_limit_message(steady::duration wait, steady::duration left,
                                 int64_t estimate) const;

  /// Counts a failed call and returns its failure.
  failure fail(ec code, std::string message);

  template <class F>
  void update(F f) {
    std::lock_guard<std::mutex> guard{mtx_};
    f(stats_);
  }

  const llm_options opts_;
  const std::string request_uri_;
  /// base_url + /chat/completions, redacted, for messages.
  const std::string endpoint_;
  const bool azure_;
  std::unique_ptr<http::client::http_client> http_;
  std::counting_semaphore<> slots_;
  detail::rate_limiter limiter_;

  /// Learned from 400 answers, kept for later calls (see wire.hpp).
  mutable std::mutex dialect_mtx_;
  detail::dialect learned_;

  mutable std::mutex mtx_;
  client_stats stats_;
};

std::string client_impl::clean(std::string_view text) const {
  std::string out{text};
  if (!opts_.api_key.empty()) {
    for (auto pos = out.find(opts_.api_key); pos != std::string::npos;
         pos = out.find(opts_.api_key, pos + 3))
      out.replace(pos, opts_.api_key.size(), "***");
  }
  return redact_secrets(out);
}

milliseconds client_impl::retry_delay(const attempt& a, int retry) const {
  // The endpoint knows best when it can take the next request.
  if (a.kind == attempt::answered && (a.status == 429 || a.status == 503)) {
    auto now = std::chrono::system_clock::now();
    std::optional<milliseconds> hint;
    // OpenAI's finer-grained variant first; parsed as seconds, hence / 1000.
    if (!a.retry_after_ms.empty())
      if (auto x = detail::parse_retry_after(a.retry_after_ms, now))
        hint = *x / 1000;
    if (!hint && !a.retry_after.empty())
      hint = detail::parse_retry_after(a.retry_after, now);
    if (hint)
      return std::min(*hint, opts_.backoff_max);
  }
  auto ceiling = opts_.backoff_base * (int64_t{1} << std::min(retry, 30));
  if (ceiling > opts_.backoff_max || ceiling < opts_.backoff_base)
    ceiling = opts_.backoff_max;
  return jittered(ceiling);
}

std::string client_impl::refusal(const attempt& a) const {
  auto status = std::to_string(a.status);
  auto text = clean(detail::error_text(a.body));
  auto out = "the LLM endpoint " + endpoint_ + " answered HTTP " + status;
  if (!text.empty())
    out += ": " + text;
  switch (a.status) {
    case 401:
      if (opts_.api_key.empty())
        out += "; no API key is set: set OPENAI_API_KEY";
      else
        out += "; check OPENAI_API_KEY (wrong, expired or revoked key)";
      break;
    case 403:
      out += "; check that OPENAI_API_KEY (and the organization, if set) "
             "may use model '"
        + clean(opts_.model) + "'";
      break;
    case 404:
      out += "; check the base URL (it includes the version path, e.g. "
             "/v1) and that model '"
        + clean(opts_.model) + "' exists there";
      break;
    case 413: out += "; the request is too large for the endpoint"; break;
    default: break;
  }
  return out;
}

std::string client_impl::rate_limit_message(steady::duration wait,
                                            steady::duration left,
                                            int64_t estimate) const {
  auto limit = [](int x) {
    return x > 0 ? std::to_string(x) : std::string{"none"};
  };
  return "local rate limit: the LLM call would wait " + format_ms(ceil_ms(wait))
    + " for capacity, more than the " + format_ms(ceil_ms(left))
    + " left of its budget (timeout x (max_retries + 1)); "
      "requests_per_minute: "
    + limit(opts_.requests_per_minute)
    + ", tokens_per_minute: " + limit(opts_.tokens_per_minute)
    + " (this call needs about " + std::to_string(estimate)
    + " tokens); raise the limits or send fewer requests";
}

failure client_impl::fail(ec code, std::string message) {
  update([](client_stats& s) { ++s.failed; });
  OPTISCHEMA_DEBUG("LLM call failed: {}", message);
  return failure{code, std::move(message)};
}

attempt client_impl::send(const std::string& body) {
  http::http_request req{http::methods::POST};
  req.set_request_uri(request_uri_);
  auto& headers = req.headers();
  if (!opts_.api_key.empty()) {
    if (azure_)
      headers.add(_XPLATSTR("api-key"), opts_.api_key);
    else
      headers.add(http::header_names::authorization, "Bearer " + opts_.api_key);
  }
  if (!opts_.organization.empty())
    headers.add(_XPLATSTR("OpenAI-Organization"), opts_.organization);
  headers.add(http::header_names::accept, _XPLATSTR("application/json"));
  headers.add(http::header_names::user_agent, _XPLATSTR("optischema"));
  req.set_body(body, "application/json");
  // Only the HTTP exchange holds a slot: backoff and rate-limit sleeps do
  // not keep other calls out.
  slots_.acquire();
  struct release_t {
    std::counting_semaphore<>& sem;
    ~release_t() {
      sem.release();
    }
  } release{slots_};
  update([](client_stats& s) { ++s.requests; });
  attempt out;
  try {
    auto res = http_->request(req).get();
    out.status = res.status_code();
    auto& res_headers = res.headers();
    if (auto i = res_headers.find(_XPLATSTR("Retry-After"));
        i != res_headers.end())
      out.retry_after = i->second;
    if (auto i = res_headers.find(_XPLATSTR("retry-after-ms"));
        i != res_headers.end())
      out.retry_after_ms = i->second;
    // The body of any status: error answers explain themselves in it.
    out.body = res.extract_utf8string(true).get();
  } catch (const http::http_exception& e) {
    auto code = e.error_code();
    out.kind = code == std::errc::timed_out ? attempt::timed_out
                                            : attempt::unreachable;
    out.stale = code == std::errc::broken_pipe
      || code == std::errc::connection_reset
      || code == std::errc::connection_aborted;
    out.what = clean(e.what());
    // cpprest says no more than "Error in SSL handshake", also when the
    // certificate is not trusted.
    if (out.what.find("SSL") != std::string::npos)
      out.what += " (if the certificate is signed by a private CA, add it "
                  "to the system store or point SSL_CERT_FILE at it)";
  } catch (const std::exception& e) {
    out.kind = attempt::unreachable;
    out.what = clean(e.what());
  }
  return out;
}

expected<chat_response> client_impl::chat(const chat_request& req) {
  auto start = steady::now();
  detail::dialect how;
  {
    std::lock_guard<std::mutex> guard{dialect_mtx_};
    how = learned_;
  }
  if (req.json_schema.empty())
    how.format = detail::output_format::text;
  else if (how.format == detail::output_format::text)
    how.format = detail::output_format::json_schema;
  auto body = detail::render_request(opts_.model, req, how);
  if (!body)
    return fail(body.error().code, body.error().message);
  auto estimate = detail::estimate_tokens(req);
  // Waiting for the local limits is bounded by what the caller would wait
  // for the endpoint anyway.
  auto wait_budget = std::chrono::duration_cast<steady::duration>(
    opts_.timeout * (opts_.max_retries + 1));
  steady::duration waited{0};
  int attempts = 0;
  int retries = 0;
  bool replayed_stale = false;
  bool only_timeouts = true;
  std::string last_problem;
  for (;;) {
    auto left = std::max(wait_budget - waited, steady::duration::zero());
    auto slot = limiter_.reserve(estimate, left);
    if (!slot.granted)
      return fail(ec::llm_error, rate_limit_message(slot.wait, left, estimate));
    if (slot.wait > steady::duration::zero()) {
      OPTISCHEMA_DEBUG("LLM call waits {} ms for the local rate limit",
                       ceil_ms(slot.wait).count());
      std::this_thread::sleep_for(slot.wait);
      waited += slot.wait;
    }
    ++attempts;
    auto a = send(*body);
    if (a.kind == attempt::answered && a.status >= 200 && a.status < 300) {
      auto answer = detail::parse_answer(a.body, opts_.model);
      if (!answer) {
        // Not retried: the same endpoint would most likely answer the same.
        auto& why = answer.error().message;
        if (why.rfind("the model refused", 0) == 0)
          return fail(ec::llm_error, clean(why));
        return fail(ec::llm_error,
                    "the LLM endpoint answered malformed JSON: " + clean(why));
      }
      limiter_.correct_tokens(answer->tokens.total_tokens - estimate);
      answer->attempts = attempts;
      answer->latency_ms
        = std::chrono::duration<double, std::milli>(steady::now() - start)
            .count();
      update([&](client_stats& s) {
        ++s.succeeded;
        s.prompt_tokens += answer->tokens.prompt_tokens;
        s.completion_tokens += answer->tokens.completion_tokens;
      });
      OPTISCHEMA_DEBUG("LLM answer from {} after {} attempt(s), {:.0f} ms, "
                       "{} prompt + {} completion tokens",
                       clean(answer->model), attempts, answer->latency_ms,
                       answer->tokens.prompt_tokens,
                       answer->tokens.completion_tokens);
      return answer;
    }
    if (a.kind == attempt::answered) {
      // The endpoint processed nothing: the estimate goes back.
      limiter_.correct_tokens(-estimate);
      update([&](client_stats& s) {
        if (a.status == 429)
          ++s.rate_limited;
        if (a.status >= 500)
          ++s.server_errors;
      });
    } else if (a.kind == attempt::timed_out) {
      update([](client_stats& s) { ++s.timeouts; });
    }
    // A 400 that blames a parameter some endpoints or models do not take:
    // send it the other way, once per parameter, and remember for later
    // calls. This does not use up max_retries.
    if (a.kind == attempt::answered && a.status == 400) {
      auto next = how;
      if (how.format == detail::output_format::json_schema
          && detail::blames_response_format(a.body))
        next.format = detail::output_format::json_object;
      else if (!how.max_completion_tokens && detail::blames_max_tokens(a.body))
        next.max_completion_tokens = true;
      else if (!how.omit_temperature && detail::blames_temperature(a.body))
        next.omit_temperature = true;
      if (next.format != how.format
          || next.max_completion_tokens != how.max_completion_tokens
          || next.omit_temperature != how.omit_temperature) {
        OPTISCHEMA_WARN("the LLM endpoint {} refused a parameter ({}); "
                        "adapting the request for this and later calls",
                        endpoint_, clean(detail::error_text(a.body, 200)));
        how = next;
        {
          std::lock_guard<std::mutex> guard{dialect_mtx_};
          if (how.format == detail::output_format::json_object)
            learned_.format = how.format;
          learned_.max_completion_tokens |= how.max_completion_tokens;
          learned_.omit_temperature |= how.omit_temperature;
        }
        body = detail::render_request(opts_.model, req, how);
        if (!body)
          return fail(body.error().code, body.error().message);
        update([](client_stats& s) { ++s.retries; });
        continue;
      }
    }
    if (a.kind == attempt::answered && !is_retryable(a.status))
      return fail(ec::llm_error, refusal(a));
    // cpprest reuses pooled connections without noticing that the server
    // closed them while idle (uvicorn, and so vLLM, after 5 s): the write
    // fails at once. That is no failure of the endpoint, so it is replayed
    // at once, once per call, outside max_retries.
    if (a.kind == attempt::unreachable && a.stale && !replayed_stale) {
      replayed_stale = true;
      limiter_.correct_tokens(-estimate);
      update([](client_stats& s) { ++s.retries; });
      OPTISCHEMA_DEBUG("the LLM endpoint {} had closed the connection ({}); "
                       "sending again on a new one",
                       endpoint_, a.what);
      continue;
    }
    // Transient: 429, 5xx, timeout, connection trouble.
    switch (a.kind) {
      case attempt::answered:
        only_timeouts = false;
        last_problem = "HTTP " + std::to_string(a.status);
        if (auto text = clean(detail::error_text(a.body)); !text.empty())
          last_problem += ": " + text;
        break;
      case attempt::timed_out:
        last_problem = "no answer within " + format_ms(opts_.timeout);
        break;
      case attempt::unreachable:
        only_timeouts = false;
        last_problem = "cannot reach it: " + a.what;
        break;
    }
    if (retries >= opts_.max_retries) {
      if (only_timeouts)
        return fail(ec::timeout,
                    "the LLM endpoint " + endpoint_ + " did not answer within "
                      + format_ms(opts_.timeout) + " ("
                      + std::to_string(attempts)
                      + " attempt(s)); raise the LLM timeout or check the "
                        "endpoint");
      return fail(ec::llm_error,
                  "the LLM endpoint " + endpoint_ + " failed after "
                    + std::to_string(attempts)
                    + " attempt(s); last: " + last_problem);
    }
    auto delay = retry_delay(a, retries);
    ++retries;
    update([](client_stats& s) { ++s.retries; });
    OPTISCHEMA_WARN("the LLM endpoint {}: {}; retry {}/{} in {} ms", endpoint_,
                    last_problem, retries, opts_.max_retries, delay.count());
    std::this_thread::sleep_for(delay);
  }
}

/// The origin (scheme://host:port) for cpprest, the path and query to POST
/// to, and the endpoint as shown in messages.
struct endpoint_parts {
  std::string origin;
  std::string request_uri;
  std::string shown;
  std::string host;
};

expected<endpoint_parts> parse_base_url(const std::string& base_url) {
  auto shown = redact_secrets(base_url);
  auto bad = [&](const std::string& why) {
    return failure{ec::invalid_configuration,
                   "invalid LLM base URL '" + shown + "': " + why
                     + " (e.g. https://api.openai.com/v1 or "
                       "http://127.0.0.1:11434/v1 for Ollama)"};
  };
  if (base_url.empty())
    return bad("it is empty");
  auto scheme_end = base_url.find("://");
  if (scheme_end == std::string::npos)
    return bad("it must start with http:// or https://");
  auto scheme = lower(base_url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https")
    return bad("the scheme must be http or https, not '" + scheme + "'");
  web::uri uri;
  try {
    uri = web::uri{base_url};
  } catch (const std::exception&) {
    return bad("it is not a URL");
  }
  if (uri.host().empty())
    return bad("it has no host");
  if (!uri.user_info().empty())
    return bad("credentials do not belong in the URL; set OPENAI_API_KEY");
  if (!uri.fragment().empty())
    return bad("it has a fragment (#...)");
  web::uri_builder origin;
  origin.set_scheme(scheme).set_host(uri.host()).set_port(uri.port());
  auto path = uri.path();
  while (!path.empty() && path.back() == '/')
    path.pop_back();
  path += "/chat/completions";
  endpoint_parts out;
  out.origin = origin.to_string();
  out.request_uri = uri.query().empty() ? path : path + "?" + uri.query();
  auto base = shown;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  if (auto q = base.find('?'); q != std::string::npos)
    base.erase(q);
  out.shown = base + "/chat/completions";
  out.host = lower(uri.host());
  return out;
}

} // namespace

expected<std::unique_ptr<client>> client::create(llm_options opts) {
  auto parts = parse_base_url(opts.base_url);
  if (!parts)
    return parts.error();
  auto bad = [](const std::string& why) {
    return failure{ec::invalid_configuration, "invalid LLM option: " + why};
  };
  if (opts.model.empty())
    return bad("the model is empty; name one, e.g. gpt-4o");
  if (opts.timeout <= 0ms)
    return bad("the timeout must be positive, got "
               + std::to_string(opts.timeout.count()) + " ms");
  if (opts.max_retries < 0)
    return bad("max_retries must be 0 or more, got "
               + std::to_string(opts.max_retries));
  if (opts.backoff_base < 0ms || opts.backoff_max < opts.backoff_base)
    return bad("the backoff must satisfy 0 <= base <= max, got "
               + std::to_string(opts.backoff_base.count()) + " ms and "
               + std::to_string(opts.backoff_max.count()) + " ms");
  // The upper bound keeps the semaphore's count in range; no endpoint
  // takes that many parallel requests from one client anyway.
  if (opts.max_concurrency < 1 || opts.max_concurrency > 10'000)
    return bad("max_concurrency must be from 1 to 10000, got "
               + std::to_string(opts.max_concurrency));
  if (opts.requests_per_minute < 0 || opts.tokens_per_minute < 0)
    return bad("requests_per_minute and tokens_per_minute must be 0 (no "
               "limit) or more");
  // The key goes into a header verbatim; a line break would split it.
  if (opts.api_key.find_first_of("\r\n") != std::string::npos)
    return bad("the API key contains a line break");
  if (opts.organization.find_first_of("\r\n") != std::string::npos)
    return bad("the organization contains a line break");
  try {
    auto azure = is_azure(parts->host);
    return std::unique_ptr<client>{new client_impl(
      std::move(opts), parts->origin, parts->request_uri, parts->shown, azure)};
  } catch (const std::exception& e) {
    return failure{ec::invalid_configuration,
                   "cannot set up the LLM client for " + parts->shown + ": "
                     + redact_secrets(e.what())};
  }
}

} // namespace optischema::llm
