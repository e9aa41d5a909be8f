#include "optischema/messages/targets_file.hpp"

#include "optischema/pg/conninfo.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace optischema {

namespace {

/// The file's lines, without their line breaks.
std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    out.emplace_back(line);
    if (nl == std::string_view::npos)
      break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string_view trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return x;
}

bool skipped(std::string_view line) {
  line = trim(line);
  return line.empty() || line.front() == '#';
}

/// The NAME of a target line ("" when it has none).
std::string name_of(std::string_view line) {
  line = trim(line);
  auto eq = line.find('=');
  return eq == std::string_view::npos ? std::string{}
                                      : std::string{trim(line.substr(0, eq))};
}

constexpr size_t max_targets = 10'000;

} // namespace

std::string dsn_secret_problem(const std::string& dsn) {
  auto settings = pg::conninfo_settings(dsn);
  if (!settings)
    return {}; // parse_conninfo says what is wrong
  // Secrets, and files read as the engine: a DSN given at run time names
  // neither (a token holder could point the engine's keys at a server of
  // theirs).
  for (auto* key : {"password", "passfile", "sslkey", "sslcert", "sslpassword"})
    if (settings->count(key) > 0)
      return fmt::format(
        "the DSN sets {}: give credentials by reference instead, the password "
        "in the file PGPASSFILE names (.pgpass) or a service file "
        "(PGSERVICE), client certificates in a service file or the engine's "
        "PGSSLCERT/PGSSLKEY, so that they are never stored or shown with the "
        "targets",
        key);
  return {};
}

expected<std::vector<target_config>> parse_targets_file(std::string_view text) {
  std::vector<target_config> out;
  std::set<std::string> names;
  auto lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto bad = [&](const std::string& why) {
      return failure{ec::invalid_configuration,
                     fmt::format("targets file, line {}: {}", i + 1, why)};
    };
    if (skipped(lines[i]))
      continue;
    auto line = trim(lines[i]);
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      return bad("expected NAME=DSN, e.g. shop=postgresql://monitor@db1/shop");
    auto name = std::string{trim(line.substr(0, eq))};
    auto dsn = std::string{trim(line.substr(eq + 1))};
    if (!valid_new_target_name(name))
      return bad(fmt::format("target name '{:.64}' is invalid: use letters, "
                             "digits, '_' and '-' (at most 64; not _engine)",
                             name));
    if (dsn.empty())
      return bad("target " + name + " has an empty DSN");
    if (!names.insert(name).second)
      return bad("target " + name + " is listed twice");
    if (names.size() > max_targets)
      return bad(fmt::format("more than {} targets", max_targets));
    if (auto why = dsn_secret_problem(dsn); !why.empty())
      return bad("target " + name + ": " + why);
    auto ci = pg::parse_conninfo(dsn);
    if (!ci)
      return bad("target " + name + ": " + ci.error().message);
    out.push_back({name, std::move(*ci), {}});
  }
  return out;
}

expected<std::string> edit_targets_file(std::string_view text,
                                        const std::string& name,
                                        const std::optional<std::string>& dsn) {
  std::string out;
  auto found = false;
  for (auto& line : lines_of(text)) {
    if (!skipped(line) && name_of(line) == name) {
      found = true;
      if (dsn)
        out += name + "=" + *dsn + "\n";
      continue;
    }
    out += line + "\n";
  }
  if (!found && !dsn)
    return failure{ec::not_found,
                   "no target named '" + name + "' in the targets file"};
  if (!found)
    out += name + "=" + *dsn + "\n";
  return out;
}

expected<std::string> read_targets_file(const std::string& path) {
  std::error_code err;
  if (!std::filesystem::exists(path, err) && !err)
    return std::string{};
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    return failure{ec::invalid_configuration,
                   fmt::format("cannot read the targets file {}: {}", path,
                               std::strerror(errno))};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

expected<ok> write_targets_file(const std::string& path,
                                const std::string& text) {
  namespace fs = std::filesystem;
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    if (!out)
      return failure{ec::conflict,
                     fmt::format("cannot write the targets file {} ({}): on "
                                 "Kubernetes it is a read-only ConfigMap; "
                                 "edit the ConfigMap instead",
                                 path, std::strerror(errno))};
    out << text;
    out.flush();
    if (!out)
      return failure{ec::conflict, "cannot write the targets file " + path};
  }
  std::error_code err;
  fs::rename(tmp, path, err);
  if (err) {
    fs::remove(tmp, err);
    return failure{ec::conflict,
                   fmt::format("cannot replace the targets file "
                               "{}: {}",
                               path, err.message())};
  }
  return ok{};
}

} // namespace optischema
