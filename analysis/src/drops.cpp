#include "optischema/analysis/drops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace optischema {

std::string normalize_key(const std::string& key) {
  std::string out;
  bool quoted = false;
  for (char c : key) {
    if (c == '"')
      quoted = !quoted;
    if (!quoted && std::isspace(static_cast<unsigned char>(c)))
      continue;
    out += quoted
      ? c
      : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // "(lower(x))" and "lower(x)" are the same key.
  while (out.size() >= 2 && out.front() == '(' && out.back() == ')') {
    int depth = 0;
    bool wraps = true;
    for (size_t i = 0; i < out.size(); ++i) {
      depth += out[i] == '(' ? 1 : out[i] == ')' ? -1 : 0;
      if (depth == 0 && i + 1 < out.size()) {
        wraps = false;
        break;
      }
    }
    if (!wraps)
      break;
    out = out.substr(1, out.size() - 2);
  }
  return out;
}

namespace {

std::vector<std::string> keys_of(const index_info& x) {
  std::vector<std::string> out;
  for (auto& k : x.keys)
    out.push_back(normalize_key(k));
  return out;
}

std::set<std::string> include_of(const index_info& x) {
  std::set<std::string> out;
  for (auto& k : x.include)
    out.insert(normalize_key(k));
  return out;
}

bool protected_index(const index_info& x) {
  return x.primary || x.unique || x.constraint_backed;
}

double per_day(int64_t count, int64_t age_ms) {
  if (age_ms <= 0)
    return static_cast<double>(count);
  return static_cast<double>(count) * 86'400'000.0
    / static_cast<double>(age_ms);
}

std::string age_text(int64_t ms) {
  if (ms <= 0)
    return "an unknown time";
  if (ms < 3'600'000)
    return fmt::format("{} minutes", std::max<int64_t>(1, ms / 60'000));
  if (ms < 2 * 86'400'000)
    return fmt::format("{} hours", ms / 3'600'000);
  return fmt::format("{} days", ms / 86'400'000);
}

constexpr const char* replica_caveat
  = "scans on replicas are not counted here: check pg_stat_user_indexes on "
    "every replica first";

} // namespace

std::vector<drop_candidate> drop_candidates(const catalog& cat,
                                            const drop_options& opts) {
  std::vector<drop_candidate> out;
  for (auto& t : cat.tables) {
    std::set<std::string> dropped;
    auto writes = t.n_tup_ins + t.n_tup_upd + t.n_tup_del;
    auto add = [&](const index_info& ix, std::string reason, std::string by,
                   double confidence, std::vector<std::string> reasons) {
      drop_candidate d;
      d.schema = t.schema;
      d.table = t.name;
      d.index = ix;
      d.reason = std::move(reason);
      d.covered_by = std::move(by);
      d.confidence = confidence;
      d.reasons = std::move(reasons);
      d.writes_per_day = per_day(writes, opts.stats_age_ms);
      dropped.insert(ix.name);
      out.push_back(std::move(d));
    };
    // Invalid: a failed CREATE INDEX CONCURRENTLY leaves one behind; it is
    // maintained on every write and never used.
    for (auto& ix : t.indexes)
      if (!ix.valid && !protected_index(ix))
        add(
          ix, "invalid", "", 0.95,
          {"the index is INVALID (a failed concurrent build): it costs writes "
           "and serves no query; drop it, then rebuild if it is wanted"});
    // Duplicates: same method, keys, INCLUDE, predicate and operator classes.
    // Keep the constraint-backed one, else the most used, else the oldest.
    for (size_t i = 0; i < t.indexes.size(); ++i) {
      for (size_t j = 0; j < t.indexes.size(); ++j) {
        if (i == j)
          continue;
        auto& a = t.indexes[i];
        auto& b = t.indexes[j];
        if (!a.valid || !b.valid || dropped.count(a.name)
            || dropped.count(b.name))
          continue;
        if (a.am != b.am || keys_of(a) != keys_of(b)
            || include_of(a) != include_of(b)
            || normalize_key(a.predicate) != normalize_key(b.predicate)
            || a.opclasses != b.opclasses)
          continue;
        // Drop `a` when `b` is the better one to keep.
        auto keep_b = (protected_index(b) && !protected_index(a))
          || (protected_index(b) == protected_index(a)
              && (b.scans > a.scans || (b.scans == a.scans && b.oid < a.oid)));
        if (!keep_b || protected_index(a))
          continue;
        add(a, "duplicate", b.name, 0.9,
            {fmt::format("same definition as {}: every write maintains both, "
                         "queries use either",
                         b.name),
             fmt::format("{} scans against {} for {}", a.scans, b.scans,
                         b.name)});
      }
    }
    // Redundant prefix: a btree whose keys lead another btree index (same
    // directions, same predicate) answers nothing the longer one cannot.
    for (auto& a : t.indexes) {
      if (a.am != "btree" || !a.valid || protected_index(a)
          || dropped.count(a.name))
        continue;
      auto ka = keys_of(a);
      for (auto& b : t.indexes) {
        if (&a == &b || b.am != "btree" || !b.valid || dropped.count(b.name))
          continue;
        auto kb = keys_of(b);
        if (kb.size() <= ka.size()
            || !std::equal(ka.begin(), ka.end(), kb.begin())
            || normalize_key(a.predicate) != normalize_key(b.predicate))
          continue;
        auto inc = include_of(a);
        std::set<std::string> covered{kb.begin(), kb.end()};
        auto bi = include_of(b);
        covered.insert(bi.begin(), bi.end());
        if (!std::includes(covered.begin(), covered.end(), inc.begin(),
                           inc.end()))
          continue;
        add(
          a, "redundant_prefix", b.name, 0.75,
          {fmt::format("its columns ({}) lead {} ({}), which serves the same "
                       "lookups",
                       fmt::join(a.keys, ", "), b.name,
                       fmt::join(b.keys, ", ")),
           "the longer index is somewhat larger per lookup; the saving is one "
           "index to maintain on every write"});
        break;
      }
    }
    // What another drop leans on stays: the longer twin of a redundant
    // prefix shows no scans exactly because the planner used the prefix;
    // dropping both would leave the lookups with nothing.
    std::set<std::string> keepers;
    for (auto& d : out)
      if (d.schema == t.schema && d.table == t.name && !d.covered_by.empty())
        keepers.insert(d.covered_by);
    // Unused since the statistics reset: the longer the silence and the more
    // writes it absorbed, the surer the advice.
    for (auto& ix : t.indexes) {
      if (!ix.valid || protected_index(ix) || dropped.count(ix.name)
          || ix.scans > 0 || keepers.count(ix.name)
          || opts.used_in_plans.count(t.schema + "." + ix.name)
          || opts.used_in_plans.count(ix.name))
        continue;
      if (ix.size_bytes < opts.min_unused_bytes && writes == 0)
        continue;
      auto age = opts.stats_age_ms;
      double confidence = age >= 7 * 86'400'000LL ? 0.8
        : age >= 86'400'000LL                     ? 0.6
                                                  : 0.4;
      std::vector<std::string> reasons{
        fmt::format("no scans since the statistics were reset {} ago",
                    age_text(age)),
        replica_caveat};
      // Writes add evidence only over a known window: without a reset the
      // counters may hold nothing but the initial load.
      if (writes > 0 && age > 0) {
        confidence += 0.2;
        reasons.push_back(fmt::format(
          "its table took {} row writes in that time, each maintaining it",
          writes));
      }
      // The only index leading with a foreign key's columns checks every
      // DELETE or key UPDATE of the referenced table: unused by queries is
      // not unused.
      for (auto& fk : t.foreign_keys) {
        auto leads = [&](const index_info& x) {
          auto k = keys_of(x);
          if (k.size() < fk.columns.size())
            return false;
          for (size_t i = 0; i < fk.columns.size(); ++i)
            if (k[i] != normalize_key(fk.columns[i]))
              return false;
          return x.valid;
        };
        if (!leads(ix))
          continue;
        auto others
          = std::count_if(t.indexes.begin(), t.indexes.end(), [&](auto& o) {
              return &o != &ix && leads(o) && dropped.count(o.name) == 0;
            });
        if (others == 0) {
          confidence = std::min(confidence, 0.3);
          reasons.push_back(fmt::format(
            "it is the only index for foreign key {} ({}): without it every "
            "DELETE or key UPDATE on {}.{} scans this table",
            fk.name, fmt::join(fk.columns, ", "), fk.ref_schema, fk.ref_table));
        }
      }
      add(ix, "unused", "", std::min(confidence, 0.95), std::move(reasons));
    }
  }
  return out;
}

} // namespace optischema
