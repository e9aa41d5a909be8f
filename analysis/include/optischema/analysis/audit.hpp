#pragma once

// One entry of the audit log: who changed what on which target, when, with
// which DDL, and how it went. Written by the APPLIER and the SANDBOX actor,
// kept by the STORE, shown at /api/audit.

#include <cstdint>
#include <string>
#include <vector>

namespace optischema {

struct audit_entry {
  int64_t ts_ms = 0;
  /// Who asked: "api (127.0.0.1)", "analysis", "cli".
  std::string who;
  /// apply, rollback, test, cleanup.
  std::string action;
  std::string target;
  std::string recommendation_id;
  std::string kind;
  std::string ddl;
  /// applied, unchanged, failed, refused, tested, rolled_back.
  std::string outcome;
  int64_t duration_ms = 0;
  int attempts = 0;
  std::vector<std::string> steps;
  std::string error;
};

std::string to_json(const audit_entry& x);

} // namespace optischema
