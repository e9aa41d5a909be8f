#pragma once

// The targets file (--targets-file): databases an engine watches besides
// those of its flags and config, one per line as NAME=DSN ('#' starts a
// comment line). The SUPERVISOR re-reads it while the engine runs, so adding
// or removing a database needs no restart; POST and DELETE /api/targets edit
// it. On Kubernetes it is a ConfigMap every engine of a fleet mounts. No
// passwords in it: libpq reads them from PGPASSFILE (.pgpass) or a service
// file (PGSERVICE), so the file can be shown, diffed and shared.

#include "optischema/messages/config.hpp"
#include "optischema/util/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// The targets of a targets file's text, each checked (name, DSN, no
/// password, no name twice); fails naming the line and what to write.
expected<std::vector<target_config>> parse_targets_file(std::string_view text);

/// Why `dsn` may not be given as a target at run time (a password in it),
/// or "" when it may.
std::string dsn_secret_problem(const std::string& dsn);

/// `text` with target `name` set to `dsn` (a line added, or its line
/// replaced) or, without `dsn`, its line removed; comments and the other
/// lines stay as they are. Fails (not_found) removing a name not in it.
expected<std::string> edit_targets_file(std::string_view text,
                                        const std::string& name,
                                        const std::optional<std::string>& dsn);

/// The file's text ("" when it does not exist yet).
expected<std::string> read_targets_file(const std::string& path);

/// Replaces the file's text at once (a temporary file renamed over it), so
/// an engine re-reading it never sees half of it.
expected<ok> write_targets_file(const std::string& path,
                                const std::string& text);

} // namespace optischema
