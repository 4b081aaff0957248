// `weighlink-backend serve`: wires the worker pool, the gRPC service and the HTTP endpoints, and
// shuts them down in order on SIGTERM/SIGINT.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>

#include "weighlink/base/credential_files.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/base/ready_file.hpp"
#include "weighlink/base/service_notify.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/service/commands.hpp"
#include "weighlink/service/http_server.hpp"
#include "weighlink/service/pg_store.hpp"
#include "weighlink/service/sync_service.hpp"

namespace weighlink::service {
namespace {

constexpr auto kShutdownGrace = std::chrono::seconds(5);
constexpr std::string_view kServiceName = "weighlink.sync.v1.SyncService";

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int usage_error(const base::Console& console, const std::string& message) {
  console.err << "weighlink-backend: serve: " << message << "\n";
  return kExitUsage;
}

// The whole of a PEM file; nullopt (with a message on the console) when it cannot be read or holds
// no PEM block.
std::optional<std::string> read_pem(const base::Console& console, const std::string& flag,
                                    const std::string& path) {
  auto text = base::read_pem_file(path);
  if (!text) {
    console.err << "weighlink-backend: serve: " << flag << ": " << text.error().message << "\n";
    return std::nullopt;
  }
  return std::move(*text);
}

// Plaintext, or TLS (optionally mutual) from the --tls-* files; nullptr after a message.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const base::Console& console,
                                                            const ServeOptions& o) {
  if (o.tls_cert.empty() && o.tls_key.empty() && o.tls_client_ca.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert.empty() || o.tls_key.empty()) {
    console.err << "weighlink-backend: serve: --tls-cert and --tls-key go together (and "
                   "--tls-client-ca needs both)\n";
    return nullptr;
  }
  auto cert = read_pem(console, "--tls-cert", o.tls_cert);
  auto key = read_pem(console, "--tls-key", o.tls_key);
  if (!cert || !key) return nullptr;
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!o.tls_client_ca.empty()) {
    auto ca = read_pem(console, "--tls-client-ca", o.tls_client_ca);
    if (!ca) return nullptr;
    ssl = grpc::SslServerCredentialsOptions(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = *ca;
  }
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

int run_serve(const ServeOptions& options, const base::Console& console) {
  // Every thread started from here on inherits the blocked mask; the main thread takes the
  // signals synchronously with sigwait, so no handler runs inside gRPC or Asio threads. First of
  // all: gRPC starts its own threads as soon as the credentials are made, and a SIGTERM the
  // kernel gave to one of those with the signal unblocked would kill the process unclean.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (options.workers < 1 || options.workers > 256) {
    return usage_error(console, "--workers must be between 1 and 256");
  }
  if (options.max_queue < 1 || options.max_queue > 100000) {
    return usage_error(console, "--max-queue must be between 1 and 100000");
  }
  const auto credentials = server_credentials(console, options);
  if (!credentials) return kExitUsage;
  const auto grpc_listen = base::parse_host_port(options.grpc_listen, base::PortZero::allowed);
  if (!grpc_listen)
    return usage_error(console, "invalid --grpc-listen: " + grpc_listen.error().message);

  Metrics metrics;
  const std::string dsn = options.dsn;
  // Workers connect on their first job and reconnect after a loss, so the backend starts (and
  // keeps running) while PostgreSQL is down; /readyz says why it is not ready.
  WorkerPool pool(options.workers, options.max_queue,
                  [dsn] { return WorkerContext{pg::PgConnection(dsn)}; });

  HttpHooks hooks;
  hooks.metrics = [&metrics, &pool] {
    auto snapshot = metrics.snapshot();
    snapshot.queue_depth = pool.depth();
    snapshot.queue_capacity = pool.capacity();
    return snapshot;
  };
  hooks.probe_ready = [&pool](std::function<void(ReadyState)> done) {
    auto shared_done = std::make_shared<std::function<void(ReadyState)>>(std::move(done));
    const bool queued = pool.try_submit([shared_done](WorkerContext& worker) {
      ReadyState state;
      state.latest_version = pg::latest_schema_version();
      auto status = pg::schema_status(worker.db);
      if (status) {
        state.database_reachable = true;
        state.schema_version = status->current_version;
      } else {
        if (status.error() == pg::Errc::connection_lost) worker.db.reset();
        state.detail = worker.db.last_error();
      }
      (*shared_done)(std::move(state));
    });
    if (!queued) {
      ReadyState saturated;
      saturated.saturated = true;
      (*shared_done)(std::move(saturated));
    }
  };
  auto http = HttpServer::start(options.http_listen, std::move(hooks));
  if (!http) {
    console.err << "weighlink-backend: serve: " << http.error().message
                << "; choose another --http-listen\n";
    return http.error().code == std::errc::invalid_argument ? kExitUsage : kExitFailure;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  SyncServiceDeps deps{&pool, &metrics, &now_unix_ms, options.max_batch};
  deps.max_blob_bytes = options.max_blob_bytes;
  if (const char* pause = std::getenv("WEIGHLINK_TEST_PAUSE_AFTER_COMMIT_MS")) {
    deps.pause_after_commit = std::chrono::milliseconds(std::atoi(pause));
    spdlog::warn(
        "test fault injection: every Replay waits {} ms between its commit and its "
        "answer (WEIGHLINK_TEST_PAUSE_AFTER_COMMIT_MS); never set this in production",
        deps.pause_after_commit.count());
  }
  auto service = make_sync_service(std::move(deps));
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(options.grpc_listen, credentials, &grpc_port);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || grpc_port == 0) {
    console.err << "weighlink-backend: serve: cannot listen for gRPC on " << options.grpc_listen
                << " (address in use or invalid); choose another --grpc-listen\n";
    (*http)->stop();
    pool.stop();
    return kExitFailure;
  }
  server->GetHealthCheckService()->SetServingStatus(std::string(kServiceName), true);

  const std::string grpc_bound =
      base::format_host_port(grpc_listen->host, static_cast<std::uint16_t>(grpc_port));
  const std::string http_bound = (*http)->bound_address();
  const auto ready =
      options.ready_file.empty()
          ? base::Expected<void>()
          : base::write_ready_file(options.ready_file,
                                   boost::json::object{{"grpc", grpc_bound}, {"http", http_bound}});
  if (!ready) {
    console.err << "weighlink-backend: serve: " << ready.error().message
                << "; check that its directory exists and is writable\n";
    server->Shutdown(std::chrono::system_clock::now());
    (*http)->stop();
    pool.stop();
    return kExitFailure;
  }
  spdlog::info("weighlink-backend {} serving gRPC{} on {} and HTTP on {} with {} workers",
               WEIGHLINK_VERSION,
               options.tls_cert.empty()        ? " (plaintext)"
               : options.tls_client_ca.empty() ? " over TLS"
                                               : " over mutual TLS",
               grpc_bound, http_bound, options.workers);

  // One look at the database now, so the operator sees a problem in the log at start-up.
  (void)pool.try_submit([](WorkerContext& worker) {
    auto status = pg::schema_status(worker.db);
    if (!status) {
      spdlog::warn(
          "PostgreSQL not reachable yet ({}); serving anyway, /readyz answers 503 and "
          "calls UNAVAILABLE until it is",
          worker.db.last_error());
    } else if (status->current_version < status->latest_version) {
      spdlog::warn(
          "database schema at version {}, this binary needs {}: run weighlink-backend "
          "migrate; /readyz answers 503 until then",
          status->current_version, status->latest_version);
    }
  });

  // Under systemd (Type=notify): ready now; the watchdog is fed between waits for a signal.
  base::ServiceNotifier notifier;
  notifier.ready("serving gRPC on " + grpc_bound + " and HTTP on " + http_bound);
  int signal_number = 0;
  if (const auto period = notifier.watchdog_period()) {
    const timespec wait{static_cast<time_t>(period->count() / 1000),
                        static_cast<long>(period->count() % 1000) * 1'000'000L};
    notifier.watchdog();
    while ((signal_number = sigtimedwait(&signals, nullptr, &wait)) < 0) notifier.watchdog();
  } else {
    sigwait(&signals, &signal_number);
  }
  notifier.stopping();
  spdlog::info("received {}, shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");

  // Order matters: calls in flight still need the pool to finish, and pool jobs may still post
  // readiness answers to the HTTP io_context, which must outlive them.
  server->GetHealthCheckService()->Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  (*http)->stop();
  pool.stop();
  if (!options.ready_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(options.ready_file, ec);
  }
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace weighlink::service
