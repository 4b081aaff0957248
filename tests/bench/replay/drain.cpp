// bench_replay, part 1: a real agent's backlog of real captures drained through the backend.
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "replay_bench.hpp"
#include "weighlink/testing/backend.hpp"

namespace weighlink::bench::replay {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
namespace wt = weighlink::testing;
using tcp = boost::asio::ip::tcp;

constexpr auto kPollEvery = std::chrono::milliseconds(20);  // high water polling

// POST /v1/captures on one keep-alive connection to the agent, opened again when it closes.
class CaptureClient {
 public:
  explicit CaptureClient(const std::string& address) : address_(address) {
    const auto [host, port] = wt::split_host_port(address);
    endpoint_ = tcp::endpoint(boost::asio::ip::make_address(host), port);
  }

  http::response<http::string_body> post(const std::string& key, const std::string& body) {
    if (!socket_) {
      socket_.emplace(io_);
      socket_->connect(endpoint_);
    }
    http::request<http::string_body> req{http::verb::post, "/v1/captures", 11};
    req.set(http::field::host, address_);
    req.set(http::field::content_type, "application/json");
    req.set("Idempotency-Key", key);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(*socket_, req);
    http::response<http::string_body> res;
    http::read(*socket_, buffer_, res);
    if (!res.keep_alive()) socket_.reset();
    return res;
  }

 private:
  std::string address_;
  tcp::endpoint endpoint_;
  boost::asio::io_context io_;
  std::optional<tcp::socket> socket_;
  boost::beast::flat_buffer buffer_;
};

// Every row of the stopped agent's outbox, in seq order, as the agent will send them: read
// through the outbox library, as the agent's own outbox tools read it.
std::vector<sync::OutboxRow> read_outbox(const fs::path& file) {
  sync::OutboxOptions options;
  options.station_id = kDrainStation;
  options.create_if_missing = false;
  options.check_integrity = false;
  auto opened = sync::Outbox::open(file, options);
  if (!opened) {
    throw std::runtime_error("cannot open " + file.string() + ": " + opened.error().message);
  }
  auto& outbox = **opened;
  std::vector<sync::OutboxRow> rows;
  const auto scanned = outbox.scan([](const sync::Outbox::Chain&) {},
                                   [&rows](const sync::OutboxRow& row) {
                                     rows.push_back(row);
                                     return true;
                                   });
  outbox.close();
  if (!scanned) {
    throw std::runtime_error("cannot read " + file.string() + ": " + scanned.error().message());
  }
  if (rows.empty()) throw std::runtime_error("no rows in " + file.string());
  return rows;
}

std::vector<std::string> agent_argv(const wt::TempDir& dir) {
  return {wt::bin("weighlink-agent"),
          "--config",
          (dir / "agent.yaml").string(),
          "--listen",
          "127.0.0.1:0",
          "--ready-file",
          (dir / "agent.ready").string(),
          "--data-dir",
          (dir / "agent-data").string(),
          "--station-id",
          kDrainStation};
}

// The agent again, now with the backend, timed until the station's high water reaches the
// outbox's last seq (the captures and the agent's audit events); what it, the backend and
// PostgreSQL used meanwhile.
TimedRun drain_through_backend(const Options& options, std::int64_t outbox_rows, PartCluster& part,
                               wt::BackendServer& backend, BenchDb& db, DrainResult& out) {
  const auto& dir = part.dir;
  TimedRun r;
  r.name = "weighlink agent -> backend";
  r.load_before = load_average();
  const pid_t master = postmaster_pid(part.pg);
  const double pg_before = postgres_cpu_s(master);
  const double backend_before = cpu_seconds(backend.process().pid());
  const std::string high_water_sql =
      std::string("SELECT high_water_seq FROM stations WHERE id = '") + kDrainStation + "'";
  std::filesystem::remove(dir / "agent.ready");
  auto argv = agent_argv(dir);
  argv.insert(argv.end(),
              {"--backend", backend.grpc(), "--station-token-file", (dir / "token").string()});
  const MachineCpu machine_before = machine_cpu();
  const auto start = Clock::now();
  wt::Process agent(argv, dir / "agent-drain.log");
  const auto target = outbox_rows;
  std::int64_t high_water = 0;
  while (high_water < target) {
    check_stop();
    if (agent.poll()) throw std::runtime_error("the agent exited:\n" + agent.log());
    if (seconds_since(start) > options.timeout_s) {
      throw std::runtime_error("drain: high water " + std::to_string(high_water) + " after " +
                               std::to_string(options.timeout_s) + " s");
    }
    if (out.agent_ready_s == 0 && fs::exists(dir / "agent.ready")) {
      out.agent_ready_s = seconds_since(start);
    }
    high_water = db.number(high_water_sql);
    if (high_water > 0 && out.first_row_s == 0) out.first_row_s = seconds_since(start);
    if (high_water < target) std::this_thread::sleep_for(kPollEvery);
  }
  r.seconds = seconds_since(start);
  r.machine = machine_cpu() - machine_before;
  out.agent_cpu_s = cpu_seconds(agent.pid());
  out.backend_cpu_s = cpu_seconds(backend.process().pid()) - backend_before;
  r.client_cpu_s = out.agent_cpu_s + out.backend_cpu_s;
  r.postgres_cpu_s = postgres_cpu_s(master) - pg_before;
  out.agent_peak_rss_mb = status_mb(agent.pid(), "VmHWM");
  r.rows = db.number(std::string("SELECT count(*) FROM mutation_log WHERE station_id = '") +
                     kDrainStation + "'");
  out.weighings = db.number("SELECT count(*) FROM weighings");
  if (r.rows != target || out.weighings != static_cast<std::int64_t>(options.backlog)) {
    throw std::runtime_error("after the drain: " + std::to_string(r.rows) + " rows and " +
                             std::to_string(out.weighings) + " weighings, expected " +
                             std::to_string(target) + " and " + std::to_string(options.backlog));
  }
  r.per_s = static_cast<double>(target) / r.seconds;
  agent.terminate();
  return r;
}

}  // namespace

FillResult fill_outbox(const std::string& address, std::size_t count, int producers) {
  std::atomic<std::uint64_t> retried{0};
  const auto start = Clock::now();
  share_out(producers, count, "filling the outbox: ", [&] {
    return [&retried, client = std::make_shared<CaptureClient>(address)](std::size_t n) {
      char body[512];
      std::snprintf(body, sizeof body,
                    R"({"operator":"op-0193","reference":{"ticket":"T-2026-%06zu",)"
                    R"("vehicle":"KCY 482H","trailer":"ZF 7731",)"
                    R"("transporter":"Mombasa Freight Ltd","commodity":"cement, bagged",)"
                    R"("permit":"AL-88812"}})",
                    n + 1);
      for (int attempt = 0;; ++attempt) {
        const auto res = client->post("bl-" + std::to_string(n + 1), body);
        const unsigned status = res.result_int();
        if (status == 202) return;
        if ((status == 409 || status == 503) && attempt < 50) {
          ++retried;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        throw std::runtime_error("POST /v1/captures answered " + std::to_string(status) + ": " +
                                 res.body());
      }
    };
  });
  FillResult r;
  r.seconds = seconds_since(start);
  r.captures = count;
  r.retried = retried;
  return r;
}

DrainResult run_drain(const Options& options) {
  DrainResult out;
  PartCluster part(options, "wl-bench-drain");
  const auto& dir = part.dir;
  wt::write_secret_file(dir / "token", wt::add_station(part.pg.dsn(), kDrainStation) + "\n");
  out.backend_flags = serve_flags(options);
  wt::BackendServer backend(part.pg.dsn(), dir.path(), out.backend_flags);
  BenchDb db(part.pg.dsn());
  // The backlog is captured again and again from one standing weight: zero return (between
  // vehicles, docs/legal-metrology.md) is off for its scale.
  std::ofstream(dir / "agent.yaml", std::ios::trunc)
      << "replay_batch_size: " << options.batch << "\n"
      << "scales:\n  - {id: main, source: 'sim:static?rate=10', protocol: mt-continuous, "
         "zero_return: false}\n";

  // The backlog: real captures into an agent with no backend.
  std::printf("Drain: filling the agent's outbox with %zu captures (%d HTTP producers)...\n",
              options.backlog, options.producers);
  std::fflush(stdout);
  {
    std::filesystem::remove(dir / "agent.ready");
    wt::Process agent(agent_argv(dir), dir / "agent-fill.log");
    const auto ready = agent.wait_ready(dir / "agent.ready");
    // The simulated indicator needs a reading before the first capture can succeed.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    out.fill = fill_outbox(ready.at("http"), options.backlog, options.producers);
    if (agent.terminate() != 0) throw std::runtime_error("the agent did not stop cleanly");
  }
  std::printf("  %llu captures in %.1f s (%.0f/s, %llu retried)\n",
              static_cast<unsigned long long>(out.fill.captures), out.fill.seconds,
              static_cast<double>(out.fill.captures) / out.fill.seconds,
              static_cast<unsigned long long>(out.fill.retried));

  // The same rows for psql: read from the outbox file the agent will replay.
  std::size_t outbox_rows = 0;  // the captures and the agent's audit events of its start
  {
    const auto rows = read_outbox(dir / "agent-data" / "outbox.db");
    const auto captures = std::count_if(rows.begin(), rows.end(), [](const sync::OutboxRow& row) {
      return row.kind == "weighing.captured";
    });
    if (static_cast<std::size_t>(captures) != options.backlog) {
      throw std::runtime_error("the outbox holds " + std::to_string(captures) + " captures, not " +
                               std::to_string(options.backlog));
    }
    outbox_rows = rows.size();
    double payload_total = 0;
    for (const auto& row : rows) payload_total += static_cast<double>(row.payload_json.size());
    out.payload_bytes_mean = payload_total / static_cast<double>(rows.size());
    write_psql_scripts(db, rows, dir.path(), options.batch);
  }
  run_psql_pair(part.pg, db, dir.path(), outbox_rows, "", out.runs);

  db.scalar("CHECKPOINT");
  if (options.pg_statements > 0) db.scalar("SELECT pg_stat_statements_reset()");
  out.runs.push_back(drain_through_backend(options, static_cast<std::int64_t>(outbox_rows), part,
                                           backend, db, out));
  if (options.pg_statements > 0) out.statements = top_statements(db, options.pg_statements);
  out.backend_peak_rss_mb = status_mb(backend.process().pid(), "VmHWM");
  run_psql_pair(part.pg, db, dir.path(), outbox_rows, " (again)", out.runs);
  backend.terminate();
  return out;
}

}  // namespace weighlink::bench::replay
