#include "optischema/broker/fleet_registry.hpp"

#include "optischema/broker/ownership.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/redact.hpp"

#include "nats_options.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <map>
#include <utility>

namespace optischema::broker {

namespace {

class cnats_fleet_registry final : public fleet_registry {
public:
  cnats_fleet_registry(fleet_options opts, detail::nats_url url)
    : opts_(std::move(opts)), url_(std::move(url)),
      bucket_("optischema_fleet_" + opts_.fleet) {}

  ~cnats_fleet_registry() override {
    leave();
    close();
  }

  expected<std::vector<std::string>> beat(const std::string& info) override {
    if (kv_ == nullptr)
      if (auto s = open(); s != NATS_OK)
        return fail("cannot join fleet " + opts_.fleet + " on " + url_.redacted
                    + ": " + describe(s));
    // Our key changed since our last write: another engine runs with our
    // id, and both would poll the same targets. Said loudly, every beat.
    std::string duplicate;
    if (rev_ != 0) {
      kvEntry* e = nullptr;
      if (kvStore_Get(&e, kv_, opts_.engine.c_str()) == NATS_OK) {
        if (kvEntry_Revision(e) != rev_)
          duplicate = "another engine uses the engine id '" + opts_.engine
            + "' in fleet " + opts_.fleet
            + ": give each engine its own --engine-id";
        kvEntry_Destroy(e);
      }
    }
    uint64_t rev = 0;
    if (auto s = kvStore_PutString(&rev, kv_, opts_.engine.c_str(),
                                   info.c_str());
        s != NATS_OK) {
      auto text = describe(s);
      // A bucket deleted under us (or a server that lost it) is made again
      // on the next beat.
      close();
      return fail("cannot write this engine's heartbeat to " + bucket_ + ": "
                  + text);
    }
    rev_ = rev;
    if (!duplicate.empty())
      return failure{ec::conflict, duplicate};
    kvKeysList keys{};
    auto s = kvStore_Keys(&keys, kv_, nullptr);
    if (s != NATS_OK && s != NATS_NOT_FOUND)
      return fail("cannot read the fleet's members from " + bucket_ + ": "
                  + describe(s));
    std::vector<std::string> members;
    for (int i = 0; s == NATS_OK && i < keys.Count; ++i)
      members.emplace_back(keys.Keys[i]);
    if (s == NATS_OK)
      kvKeysList_Destroy(&keys);
    // Our own key was just written: it counts even if the listing raced.
    members.push_back(opts_.engine);
    auto now = std::chrono::steady_clock::now();
    for (auto& m : members)
      last_listed_[m] = now;
    for (auto i = last_listed_.begin(); i != last_listed_.end();) {
      if (i->second != now) {
        // Missing from the listing: asked by name, a member that deleted its
        // key (a graceful stop) or whose key expired is gone at once; one
        // the listing missed is still there. Without an answer, the grace.
        kvEntry* e = nullptr;
        auto got = kvStore_Get(&e, kv_, i->first.c_str());
        if (got == NATS_OK) {
          kvEntry_Destroy(e);
          i->second = now;
        } else if (got == NATS_NOT_FOUND || now - i->second > opts_.grace) {
          i = last_listed_.erase(i);
          continue;
        }
      }
      members.push_back(i->first);
      ++i;
    }
    // A listing may also yield a key twice.
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    return members;
  }

  void leave() override {
    if (kv_ != nullptr && kvStore_Delete(kv_, opts_.engine.c_str()) != NATS_OK)
      OPTISCHEMA_WARN("fleet {}: could not remove this engine ({}) from {}; "
                      "the others take over its targets after {} ms",
                      opts_.fleet, opts_.engine, bucket_, opts_.ttl.count());
  }

private:
  natsStatus open() {
    close();
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = bucket_.c_str();
    kc.Description = "OptiSchema fleet members (one key per live engine)";
    kc.History = 1;
    kc.TTL
      = std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.ttl).count();
    kc.Replicas = opts_.replicas;
    kc.StorageType = js_MemoryStorage;
    auto s = conn_.open(opts_.url, url_, "optischema fleet " + opts_.engine, kc,
                        opts_.wait.count());
    kv_ = conn_.kv;
    return s;
  }

  void close() {
    rev_ = 0;
    kv_ = nullptr;
    conn_.close();
  }

  std::string describe(natsStatus s) const {
    return detail::scrub(detail::describe(s), url_);
  }

  static failure fail(std::string text) {
    return {ec::broker_error, std::move(text)};
  }

  const fleet_options opts_;
  const detail::nats_url url_;
  const std::string bucket_;
  detail::kv_handle conn_;
  kvStore* kv_ = nullptr; ///< conn_.kv, while open
  /// The revision of our key's last write (0: none yet on this bucket).
  uint64_t rev_ = 0;
  /// When each member was last listed (for opts_.grace).
  std::map<std::string, std::chrono::steady_clock::time_point> last_listed_;
};

} // namespace

expected<std::unique_ptr<fleet_registry>>
fleet_registry::create(fleet_options opts) {
  auto url = detail::fleet_url(opts.fleet, opts.url);
  if (!url)
    return url.error();
  if (auto bad = check_fleet_name("the engine id", opts.engine, true);
      !bad.empty())
    return failure{ec::invalid_configuration,
                   bad + ", got '" + opts.engine + "'"};
  return std::unique_ptr<fleet_registry>{
    new cnats_fleet_registry(std::move(opts), std::move(*url))};
}

} // namespace optischema::broker
