#include "cli.hpp"

#include "optischema/actors/supervisor.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/redact.hpp"
#include "optischema/web/server.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <malloc.h>
#include <pthread.h>
#include <csignal>
#include <cstdio>

namespace optischema::app {

int serve(const engine_config& cfg) {
  // Block the stop signals in every thread we are about to create; this
  // thread then waits for them synchronously (no async handler races).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Two heaps for all threads, not eight per core: each actor thread that
  // frees a poll's megabytes would keep them in an arena of its own.
  mallopt(M_ARENA_MAX, 2);
  // What statements from requests, LLM answers and pg_stat_statements may
  // call, for every session the engine opens.
  pg::set_default_policy({cfg.allow_functions, cfg.allow_extensions});
  for (auto& f : cfg.allow_functions)
    OPTISCHEMA_WARN("statements the engine explains or runs may call {} "
                    "(--allow-function)",
                    f);
  for (auto& e : cfg.allow_extensions)
    OPTISCHEMA_WARN("statements the engine explains or runs may call "
                    "extension {}'s IMMUTABLE and STABLE functions "
                    "(--allow-extension)",
                    e);
  // Resources whose failure must end the process before anything runs.
  auto db = history_db::open(cfg.store);
  if (!db) {
    OPTISCHEMA_ERROR("{}", db.error().message);
    return 2;
  }
  web::server_options wopts;
  wopts.listen = cfg.listen;
  wopts.static_dir = cfg.static_dir;
  wopts.access.api_token = cfg.apply.api_token;
  wopts.access.cors_origins = cfg.cors_origins;
  wopts.access.allowed_hosts = cfg.allowed_hosts;
  wopts.access.insecure_listen = cfg.insecure_listen;
  wopts.max_connections = cfg.limits.max_connections;
  wopts.max_ws_clients = cfg.limits.max_ws_clients;
  auto server = web::server::start(wopts);
  if (!server) {
    OPTISCHEMA_ERROR("{}", server.error().message);
    return 2;
  }
  int rc = 0;
  {
    caf::actor_system_config sys_cfg;
    add_error_category(sys_cfg);
    caf::actor_system sys{sys_cfg};
    actors::supervisor_resources res{
      std::shared_ptr<history_db>{std::move(*db)}, *server, nullptr, nullptr};
    if (!cfg.fleet.name.empty()) {
      auto api = broker::fleet_api::create(cfg.nats_url, cfg.fleet.name,
                                           cfg.fleet.engine_id);
      if (!api) {
        OPTISCHEMA_ERROR("{}", api.error().message);
        return 2;
      }
      res.fleet_api = std::move(*api);
      auto book = broker::decision_book::create(
        {cfg.nats_url, cfg.fleet.name, cfg.fleet.replicas,
         cfg.store.audit_retention, cfg.nats_stream,
         cfg.store.hourly_retention});
      if (!book) {
        OPTISCHEMA_ERROR("{}", book.error().message);
        return 2;
      }
      res.decisions = std::move(*book);
    }
    auto sup = sys.spawn(actors::supervisor, cfg, res);
    // Actors start asynchronously: the EDGE installs its request handler
    // when it first runs. The engine's status passes through every
    // component, so once it answers, requests are served (not "starting").
    {
      caf::scoped_actor self{sys};
      self->request(sup, std::chrono::seconds{15}, atom::status_v)
        .receive(
          [](const status_report&) {
            // nop: ready
          },
          [](const caf::error& err) {
            OPTISCHEMA_WARN("the engine's status did not answer at start: {}",
                            error_message(err));
          });
    }
    for (auto& t : cfg.targets) {
      OPTISCHEMA_INFO("watching target {} at {}", t.name, t.conn.display);
    }
    OPTISCHEMA_INFO(
      "listening on {} (data dir {}, NATS {})", (*server)->url(), cfg.store.dir,
      cfg.nats_url.empty() ? "off" : redact_secrets(cfg.nats_url));
    std::printf("optischema: serving %s\n", (*server)->url().c_str());
    std::fflush(stdout);
    // While it waits for a stop, this thread gives freed heap back to the
    // system: glibc keeps it in the arenas of the threads that freed it
    // (polls of thousands of statements free megabytes every interval).
    int sig = -1;
    timespec trim_every{30, 0};
    while (sig < 0) {
      sig = sigtimedwait(&stop_signals, nullptr, &trim_every);
      if (sig < 0)
        malloc_trim(0);
    }
    OPTISCHEMA_INFO("received {}, shutting down",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    // The actor system's destructor waits for every actor.
  }
  (*server)->stop();
  OPTISCHEMA_INFO("stopped");
  return rc;
}

} // namespace optischema::app
