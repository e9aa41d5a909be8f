#include "rate_limiter.hpp"

#include <algorithm>

namespace optischema::llm::detail {

token_bucket::token_bucket(int64_t per_minute, clock::time_point now)
  : per_minute_(per_minute),
    level_(static_cast<double>(std::max<int64_t>(per_minute, 0))), last_(now) {
  // Starts full: a fresh client may use its first minute at once.
}

void token_bucket::refill(clock::time_point now) {
  if (now <= last_)
    return;
  std::chrono::duration<double> elapsed = now - last_;
  level_ = std::min(static_cast<double>(per_minute_),
                    level_ + elapsed.count() * per_minute_ / 60.0);
  last_ = now;
}

token_bucket::clock::duration token_bucket::wait_for(int64_t n,
                                                     clock::time_point now) {
  if (unlimited())
    return clock::duration::zero();
  refill(now);
  // A request larger than a whole minute's budget would never fit; it
  // waits for a full bucket instead.
  auto need = static_cast<double>(std::min(n, per_minute_));
  if (level_ >= need)
    return clock::duration::zero();
  std::chrono::duration<double> secs{(need - level_) * 60.0 / per_minute_};
  return std::chrono::ceil<clock::duration>(secs);
}

void token_bucket::take(int64_t n) {
  if (!unlimited())
    level_ -= static_cast<double>(std::min(n, per_minute_));
}

void token_bucket::give(int64_t n) {
  if (!unlimited())
    level_ = std::min(static_cast<double>(per_minute_),
                      level_ + static_cast<double>(n));
}

rate_limiter::rate_limiter(int requests_per_minute, int tokens_per_minute)
  : requests_(requests_per_minute, clock::now()),
    tokens_(tokens_per_minute, clock::now()) {
  // nop
}

rate_limiter::reservation rate_limiter::reserve(int64_t tokens,
                                                clock::duration max_wait) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = clock::now();
  reservation out;
  out.wait = std::max(requests_.wait_for(1, now),
                      tokens_.wait_for(tokens, now));
  if (out.wait > max_wait)
    return out;
  requests_.take(1);
  tokens_.take(tokens);
  out.granted = true;
  return out;
}

void rate_limiter::correct_tokens(int64_t delta) {
  std::lock_guard<std::mutex> guard{mtx_};
  tokens_.give(-delta);
}

} // namespace optischema::llm::detail
