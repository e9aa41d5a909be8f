#pragma once

#include "optischema/broker/decision_book.hpp"
#include "optischema/broker/fleet_api.hpp"
#include "optischema/messages/actors.hpp"
#include "optischema/messages/config.hpp"
#include "optischema/pg/stats_reader.hpp"
#include "optischema/store/history_db.hpp"
#include "optischema/web/server.hpp"

#include <caf/actor_addr.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace optischema::actors {

/// One supervised actor: how to spawn it and how it fared.
struct component {
  /// "store", "fingerprinter", "broker", "edge" or "collector/<target>".
  std::string name;
  caf::actor handle;
  /// Spawns the component with the current peers.
  std::function<caf::actor()> spawn;
  /// Shared components are peers of collectors: when one restarts, the
  /// collectors (and the EDGE) restart too so nobody keeps a dead handle.
  bool shared = false;
  uint64_t restarts = 0;
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point started;
  std::string last_failure;
  bool restarting = false;
};

/// What the SUPERVISOR owns besides its config: resources opened by `main`
/// so that their failures end the process before any actor starts.
struct supervisor_resources {
  std::shared_ptr<history_db> db;
  /// Null when the engine runs without the web port (some tests).
  std::shared_ptr<web::server> web;
  /// In a fleet: requests to and from the other engines (else null).
  std::shared_ptr<broker::fleet_api> fleet_api;
  /// In a fleet: the decisions that follow a target (else null).
  std::shared_ptr<broker::decision_book> decisions;
};

/// Requests for the same work on one target that share one answer (a `T`):
/// the first starts the work, the others join it.
template <class T>
struct joined_work {
  std::vector<caf::typed_response_promise<T>> waiting;
};

struct supervisor_state {
  supervisor_state() = default; // not an aggregate: see CMakeLists.txt
  static inline const char* name = "supervisor";
  engine_config config;
  supervisor_resources resources;
  int64_t started_ms = 0;
  std::map<std::string, component> components;
  /// In a fleet: the FLEET's last word on who polls which target (none
  /// before its first heartbeat: every COLLECTOR stands by until then).
  std::optional<fleet_view> fleet;
  /// The targets file as last read (--targets-file), and why its last
  /// reading was refused ("" when it was not).
  std::string targets_file_text;
  std::string targets_file_error;
  /// Which component a monitored actor is.
  std::map<caf::actor_addr, std::string> by_addr;
  /// The running children, shared with the exit hook that stops them: CAF
  /// destroys the state before attached functors run.
  std::shared_ptr<std::map<std::string, caf::actor>> running
    = std::make_shared<std::map<std::string, caf::actor>>();
  // Current handles of the shared components, the peers of the others.
  store_actor store;
  fingerprinter_actor fingerprinter;
  llm_actor llm;
  alerter_actor alerter;
  std::vector<event_sink_actor> sinks;
  // -- what requests may cost (config.limits) --
  /// Workload analyses running, by target; requests join them.
  std::map<std::string, joined_work<advisor_summary>> analyses;
  /// Forced sandbox copies running, by target; requests join them.
  std::map<std::string, joined_work<sandbox::prepared>> copies;
  /// When the last forced copy of each target started (rate limit).
  std::map<std::string, std::chrono::steady_clock::time_point> last_copy;
  /// Ad-hoc analyses in flight, by target.
  std::map<std::string, size_t> queries;
  /// Many targets: each target's server key (pg::server_key; holds
  /// secrets, never shown) and the reader its server's targets share,
  /// alive while a COLLECTOR holds it.
  std::map<std::string, std::string> server_keys;
  std::map<std::string, std::weak_ptr<pg::server_reader>> servers;
};

/// The SUPERVISOR: spawns one COLLECTOR per target plus the shared STORE,
/// FINGERPRINTER, BROKER (when NATS is configured) and EDGE (when a web
/// server is given); monitors them all and restarts a failed one with
/// exponential backoff (1 s doubling to 60 s). Its status is the engine's.
supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           engine_config config, supervisor_resources resources);

} // namespace optischema::actors
