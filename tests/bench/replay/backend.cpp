// bench_replay: the backend and its PostgreSQL as seen by the bench (clusters, CPU, statements).
#include "weighlink/testing/backend.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "replay_bench.hpp"
#include "weighlink/testing/http_client.hpp"

namespace weighlink::bench::replay {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace wt = weighlink::testing;

BenchDb::BenchDb(const std::string& dsn) : conn_(dsn, pg::PgConnection::Session::maintenance) {
  if (!conn_.ensure_connected()) {
    throw std::runtime_error("cannot connect to PostgreSQL: " + conn_.last_error());
  }
}

pg::PgResult BenchDb::query(const std::string& sql) {
  auto result = conn_.exec(sql);
  if (!result) {
    throw std::runtime_error("query failed: " + sql.substr(0, 200) + ": " + conn_.last_error());
  }
  return std::move(*result);
}

std::string BenchDb::scalar(const std::string& sql) {
  const auto result = query(sql);
  return result.rows() > 0 ? std::string(result.get(0, 0)) : std::string();
}

std::int64_t BenchDb::number(const std::string& sql) {
  const auto text = scalar(sql);
  return text.empty() ? 0 : std::stoll(text);
}

namespace {

wt::PgClusterOptions cluster_options(const Options& options) {
  wt::PgClusterOptions out;
  out.fsync = options.pg_fsync;
  return out;
}

// pg_stat_statements loaded into the cluster (one restart, before anything else connects); reset
// before each timed weighlink phase and read after it.
void enable_statements(wt::PgCluster& pg) {
  BenchDb(pg.dsn()).scalar("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  pg.stop();
  pg.start();
  BenchDb(pg.dsn()).scalar("CREATE EXTENSION pg_stat_statements");
}

}  // namespace

PartCluster::PartCluster(const Options& options, const std::string& dir_prefix)
    : pg(cluster_options(options)), dir(dir_prefix) {
  if (options.pg_statements > 0) enable_statements(pg);
  wt::migrate(pg.dsn());
}

pid_t postmaster_pid(const wt::PgCluster& pg) {
  std::ifstream in(pg.dir() / "data" / "postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

double postgres_cpu_s(pid_t postmaster) {
  const auto master = proc_stat(postmaster);
  if (!master) return 0;
  double total = master->self_s() + master->children_s;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (const auto s = proc_stat(static_cast<pid_t>(std::stol(name))); s && s->ppid == postmaster) {
      total += s->self_s();
    }
  }
  return total;
}

std::vector<Statement> top_statements(BenchDb& db, int n) {
  std::vector<Statement> out;
  const auto result = db.query(
      "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements WHERE query "
      "NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT " +
      std::to_string(n));
  for (int row = 0; row < result.rows(); ++row) {
    Statement st;
    bool space = false;
    for (char c : result.get(row, 0)) {
      const bool blank = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (blank && (space || st.query.empty())) continue;
      st.query.push_back(blank ? ' ' : c);
      space = blank;
    }
    st.calls = std::stoll(std::string(result.get(row, 1)));
    st.total_ms = std::stod(std::string(result.get(row, 2)));
    st.rows = std::stoll(std::string(result.get(row, 3)));
    out.push_back(std::move(st));
  }
  return out;
}

void print_statements(const std::vector<Statement>& statements) {
  if (statements.empty()) return;
  std::printf("  PostgreSQL statements by total execution time (pg_stat_statements):\n");
  std::printf("  %9s %8s %9s %10s  %s\n", "total ms", "calls", "mean ms", "rows", "query");
  for (const auto& st : statements) {
    std::printf("  %9.0f %8lld %9.3f %10lld  %.110s\n", st.total_ms,
                static_cast<long long>(st.calls),
                st.calls ? st.total_ms / static_cast<double>(st.calls) : 0.0,
                static_cast<long long>(st.rows), st.query.c_str());
  }
}

json::array statements_json(const std::vector<Statement>& statements) {
  json::array a;
  for (const auto& st : statements) {
    a.push_back(json::object{
        {"query", st.query}, {"calls", st.calls}, {"total_ms", st.total_ms}, {"rows", st.rows}});
  }
  return a;
}

std::vector<std::string> serve_flags(const Options& options) {
  std::vector<std::string> flags;
  if (!options.workers.empty()) flags.insert(flags.end(), {"--workers", options.workers});
  if (!options.max_queue.empty()) flags.insert(flags.end(), {"--max-queue", options.max_queue});
  return flags;
}

std::map<std::string, double> backend_metrics(const std::string& http) {
  std::map<std::string, double> out;
  const auto r = wt::http_request(http, "GET", "/metrics");
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    try {
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
    }
  }
  return out;
}

double metric(const std::map<std::string, double>& m, const std::string& name) {
  const auto it = m.find(name);
  return it == m.end() ? 0 : it->second;
}

}  // namespace weighlink::bench::replay
