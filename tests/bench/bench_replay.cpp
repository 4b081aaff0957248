// Replay: a station's backlog drained end to end, and many stations reconnecting at once.
//
// 1. Drain. A throwaway PostgreSQL cluster (tests/support PgCluster, fsync on unless --pg-fsync
//    off), `weighlink-backend migrate`, `station add`, `weighlink-backend serve` (defaults). A real
//    weighlink-agent started WITHOUT --backend, with a simulated indicator (sim:static), gets
//    --backlog real captures (POST /v1/captures, --producers keep-alive HTTP clients): real
//    weighing.captured rows in its outbox, evidence frames and hash chain included. It is stopped,
//    its outbox read (read-only) for the baseline, and started again WITH --backend. Timed: from
//    that start until the station's high_water_seq in PostgreSQL reaches the backlog (polled every
//    20 ms). Baseline, same server, same run, same rows: the real psql binary runs a generated
//    script of batched `INSERT ... VALUES (...),(...) ON CONFLICT DO NOTHING`, --batch rows per
//    statement, each batch its own transaction, into a copy of mutation_log (same columns, same
//    indexes, same foreign key); and again into copies of mutation_log + weighings (what the
//    backend writes for a weighing). Both baselines run before the agent and again after it.
// 2. Fan-in. A fresh cluster and backend (default --workers and --max-queue unless given),
//    --stations stations registered with `station add` (each its own token), and as many gRPC
//    clients in this process, each on its own channel (own TCP connection), each holding
//    --per-station mutations generated in memory (capture-shaped payloads, built from the seq when
//    a batch is assembled). All start at once and replay like the agent's worker: Hello first and
//    after every failure but RESOURCE_EXHAUSTED, seq-ordered batches sized by the agent's
//    AdaptiveBatch (or a fixed --fanin-batch), a 5 s deadline, and after a failure the agent's
//    backoff (sync/backoff.hpp, full jitter) but never sooner than x-weighlink-retry-after-ms.
//    Reported:
//    drain time, errors by status (RESOURCE_EXHAUSTED apart from DEADLINE_EXCEEDED), the backend's
//    peak RSS (VmHWM), CPU, and a check that PostgreSQL holds exactly stations x per-station rows
//    with every high water at per-station.
//
// No timing assertions; not part of `make test`. docs/performance.md, "Replay: backlog drain and
// fan-in".
//
// Usage: bench_replay [--backlog 100000] [--producers 16] [--batch 200] [--stations 200]
//                     [--per-station 5000] [--fanin-batch adaptive|N] [--workers N]
//                     [--max-queue N] [--pg-fsync on|off] [--parts drain,fanin]
//                     [--timeout S] [--pg-statements N] [--json FILE]
// --batch is the agent's replay_batch_size (written to its configuration), psql's rows per
// statement and the simulated stations' largest batch. --pg-statements N loads pg_stat_statements
// and prints PostgreSQL's top N statements during each weighlink phase.

#include <grpcpp/grpcpp.h>
#include <libpq-fe.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): sigaction is POSIX, not <csignal>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "weighlink/base/backoff.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/sync/replay.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/http_client.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
namespace json = boost::json;
namespace pb = weighlink::sync::v1;
namespace wt = weighlink::testing;
namespace wsync = weighlink::sync;
using tcp = asio::ip::tcp;
using weighlink::bench::Clock;
using weighlink::bench::load_average;
using weighlink::bench::nearest_rank;
using weighlink::bench::proc_stat;
using weighlink::bench::seconds_since;
using weighlink::bench::status_mb;

constexpr auto kCallDeadline = std::chrono::seconds(5);     // the agent's call_deadline
constexpr auto kPollEvery = std::chrono::milliseconds(20);  // high water polling
constexpr const char* kDrainStation = "st-drain";

std::atomic<bool> g_stop{false};  // SIGINT / SIGTERM

void on_signal(int) { g_stop = true; }

struct Options {
  std::size_t backlog = 100000;
  int producers = 16;
  std::size_t batch = 200;  // the agent's replay_batch_size
  std::size_t stations = 200;
  std::size_t per_station = 5000;
  std::size_t fanin_batch = 0;  // 0: adaptive, like the agent
  std::string workers;          // passed to serve when set
  std::string max_queue;
  bool pg_fsync = true;
  bool drain = true;
  bool fanin = true;
  double timeout_s = 900;  // per timed phase
  int pg_statements = 0;   // > 0: report PostgreSQL's top statements (pg_stat_statements)
  std::string json_path;
};

void check_stop() {
  if (g_stop) throw std::runtime_error("interrupted");
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU time and memory of processes.

double cpu_s(pid_t pid) {
  const auto s = proc_stat(pid);
  return s ? s->self_s() : 0;
}

// The whole machine, from /proc/stat's first line (every core): CPU seconds busy (user, nice,
// system, irq, softirq, steal), idle, and waiting for I/O. Other sessions' work shows as busy
// seconds this benchmark's processes do not account for.
struct MachineCpu {
  double busy_s = 0;
  double idle_s = 0;
  double iowait_s = 0;
};

MachineCpu machine_cpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double v[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // user nice system idle iowait irq softirq steal
  in >> cpu;
  for (double& x : v) in >> x;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  MachineCpu m;
  m.busy_s = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
  m.idle_s = v[3] / tick;
  m.iowait_s = v[4] / tick;
  return m;
}

MachineCpu operator-(const MachineCpu& a, const MachineCpu& b) {
  MachineCpu m;
  m.busy_s = a.busy_s - b.busy_s;
  m.idle_s = a.idle_s - b.idle_s;
  m.iowait_s = a.iowait_s - b.iowait_s;
  return m;
}

json::object to_json(const MachineCpu& m) {
  return json::object{{"busy_s", m.busy_s}, {"idle_s", m.idle_s}, {"iowait_s", m.iowait_s}};
}

pid_t postmaster_pid(const wt::PgCluster& pg) {
  std::ifstream in(pg.dir() / "data" / "postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// Every PostgreSQL process of the cluster: the postmaster, its live children, and its reaped
// children (cutime), so a psql session's server process counts after it exited.
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

// CPU seconds (user + system) of this process (RUSAGE_SELF) or of its reaped children
// (RUSAGE_CHILDREN: psql).
double rusage_cpu_s(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL from the bench itself (polling, checks): one libpq connection.

class Pg {
 public:
  explicit Pg(const std::string& dsn) : conn_(PQconnectdb((dsn + " connect_timeout=5").c_str())) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      throw std::runtime_error("cannot connect to PostgreSQL: " +
                               std::string(conn_ ? PQerrorMessage(conn_) : "out of memory"));
    }
    // NOTICEs (TRUNCATE ... CASCADE names the tables it empties) would go to stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~Pg() { PQfinish(conn_); }
  Pg(const Pg&) = delete;
  Pg& operator=(const Pg&) = delete;

  // First column of the first row ("" for none or NULL); throws on error.
  std::string scalar(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(r);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      const std::string error = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("query failed: " + sql.substr(0, 200) + ": " + error);
    }
    std::string out;
    if (status == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
  }
  // Every row, every column as text.
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      const std::string error = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("query failed: " + sql.substr(0, 200) + ": " + error);
    }
    std::vector<std::vector<std::string>> out(static_cast<std::size_t>(PQntuples(r)));
    for (int row = 0; row < PQntuples(r); ++row) {
      for (int col = 0; col < PQnfields(r); ++col) {
        out[static_cast<std::size_t>(row)].emplace_back(PQgetvalue(r, row, col));
      }
    }
    PQclear(r);
    return out;
  }
  std::int64_t number(const std::string& sql) {
    const auto text = scalar(sql);
    return text.empty() ? 0 : std::stoll(text);
  }

 private:
  PGconn* conn_;
};

// --pg-statements N: pg_stat_statements loaded into the cluster (one restart, before anything
// else connects), reset before each timed weighlink phase and its top N statements by total
// execution time reported after it: where PostgreSQL's time went.
void enable_statements(wt::PgCluster& pg) {
  {
    Pg db(pg.dsn());
    db.scalar("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  }
  pg.stop();
  pg.start();
  Pg db(pg.dsn());
  db.scalar("CREATE EXTENSION pg_stat_statements");
}

struct Statement {
  std::string query;  // whitespace collapsed
  std::int64_t calls = 0;
  double total_ms = 0;
  std::int64_t rows = 0;
};

std::vector<Statement> top_statements(Pg& db, int n) {
  std::vector<Statement> out;
  for (const auto& row :
       db.rows("SELECT query, calls, total_exec_time, rows FROM pg_stat_statements WHERE query "
               "NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT " +
               std::to_string(n))) {
    Statement st;
    bool space = false;
    for (char c : row[0]) {
      const bool blank = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (blank && (space || st.query.empty())) continue;
      st.query.push_back(blank ? ' ' : c);
      space = blank;
    }
    st.calls = std::stoll(row[1]);
    st.total_ms = std::stod(row[2]);
    st.rows = std::stoll(row[3]);
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

// ---------------------------------------------------------------------------------------------
// weighlink-backend.

// `serve` flags beyond --dsn and the listeners: --workers and --max-queue when given.
std::vector<std::string> serve_flags(const Options& options) {
  std::vector<std::string> flags;
  if (!options.workers.empty()) flags.insert(flags.end(), {"--workers", options.workers});
  if (!options.max_queue.empty()) flags.insert(flags.end(), {"--max-queue", options.max_queue});
  return flags;
}

// The backend's counters from GET /metrics (name with labels -> value).
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

// ---------------------------------------------------------------------------------------------
// 1. Drain: filling the agent's outbox with real captures over HTTP (keep-alive).

struct FillResult {
  double seconds = 0;
  std::uint64_t captures = 0;
  std::uint64_t retried = 0;  // 409/503 answers retried (the simulated scale is always stable)
};

FillResult fill_outbox(const std::string& address, std::size_t count, int producers) {
  const auto [host, port] = wt::split_host_port(address);
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> retried{0};
  std::mutex error_mu;
  std::string error;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(producers));
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, host = host, port = port] {
      try {
        asio::io_context io;
        std::optional<tcp::socket> socket;
        beast::flat_buffer buffer;
        const tcp::endpoint endpoint(asio::ip::make_address(host), port);
        for (std::size_t n = next++; n < count && !g_stop; n = next++) {
          char body[512];
          std::snprintf(body, sizeof body,
                        R"({"operator":"op-0193","reference":{"ticket":"T-2026-%06zu",)"
                        R"("vehicle":"KCY 482H","trailer":"ZF 7731",)"
                        R"("transporter":"Mombasa Freight Ltd","commodity":"cement, bagged",)"
                        R"("permit":"AL-88812"}})",
                        n + 1);
          for (int attempt = 0;; ++attempt) {
            if (!socket) {
              socket.emplace(io);
              socket->connect(endpoint);
            }
            http::request<http::string_body> req{http::verb::post, "/v1/captures", 11};
            req.set(http::field::host, address);
            req.set(http::field::content_type, "application/json");
            req.set("Idempotency-Key", "bl-" + std::to_string(n + 1));
            req.keep_alive(true);
            req.body() = body;
            req.prepare_payload();
            http::write(*socket, req);
            http::response<http::string_body> res;
            http::read(*socket, buffer, res);
            if (!res.keep_alive()) socket.reset();
            const unsigned status = res.result_int();
            if (status == 202) break;
            if ((status == 409 || status == 503) && attempt < 50) {
              ++retried;
              std::this_thread::sleep_for(std::chrono::milliseconds(50));
              continue;
            }
            throw std::runtime_error("POST /v1/captures answered " + std::to_string(status) + ": " +
                                     res.body());
          }
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mu);
        if (error.empty()) error = e.what();
        g_stop = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!error.empty()) throw std::runtime_error("filling the outbox: " + error);
  check_stop();
  FillResult r;
  r.seconds = seconds_since(start);
  r.captures = count;
  r.retried = retried;
  return r;
}

// One outbox row, as the agent will send it.
struct OutboxRow {
  std::int64_t seq = 0;
  std::string key;
  std::string kind;
  std::string payload;
  std::int64_t created_at_ms = 0;
};

std::vector<OutboxRow> read_outbox(const fs::path& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    throw std::runtime_error("cannot open " + file.string() + ": " + error);
  }
  sqlite3_stmt* s = nullptr;
  std::vector<OutboxRow> rows;
  if (sqlite3_prepare_v2(
          db,
          "SELECT seq, idempotency_key, kind, payload, created_at_ms FROM mutations ORDER BY seq",
          -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      OutboxRow row;
      row.seq = sqlite3_column_int64(s, 0);
      row.key = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
      row.kind = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
      row.payload = reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
      row.created_at_ms = sqlite3_column_int64(s, 4);
      rows.push_back(std::move(row));
    }
  }
  const std::string error = sqlite3_errmsg(db);
  sqlite3_finalize(s);
  sqlite3_close_v2(db);
  if (rows.empty()) throw std::runtime_error("no rows in " + file.string() + ": " + error);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 1. Drain: the psql baseline.

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string quote_or_null(std::string_view text) {
  return text.empty() ? std::string("NULL") : quote(text);
}

// 'YYYY-MM-DD HH:MM:SS.mmm+00'
std::string timestamp_literal(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "'%04d-%02d-%02d %02d:%02d:%02d.%03d+00'", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string json_text(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
  return {};
}

// The columns the backend writes for one row (backend/src/pg_store.cpp), as SQL literals.
struct SqlRow {
  std::string log;       // (station_id, idempotency_key, seq, ..., applied_at)
  std::string weighing;  // (station_id, idempotency_key, scale, ..., captured_at); "" if none
};

SqlRow sql_row(const OutboxRow& row, std::int64_t applied_at_ms) {
  SqlRow out;
  const std::string station = quote(kDrainStation);
  const std::string key = quote(row.key);
  const std::string created =
      row.created_at_ms != 0 ? timestamp_literal(row.created_at_ms) : std::string("NULL");
  out.log = "(" + station + "," + key + "," + std::to_string(row.seq) + "," + quote(row.kind) +
            "," + quote(row.payload) + "," +
            quote(weighlink::base::sha256_hex(row.kind + "\n" + row.payload)) + ",'applied',NULL," +
            created + "," + timestamp_literal(applied_at_ms) + ")";
  if (row.kind != "weighing.captured") return out;
  const auto value = json::parse(row.payload);
  const auto& o = value.as_object();
  std::string raw_hex;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned char c : json_text(o, "raw")) {
    raw_hex.push_back(kDigits[c >> 4]);
    raw_hex.push_back(kDigits[c & 0x0f]);
  }
  std::string reading_seq = "NULL";
  if (const auto* v = o.if_contains("reading_seq"); v && v->is_number()) {
    reading_seq = std::to_string(v->to_number<std::uint64_t>());
  }
  const std::string tare = json_text(o, "tare");
  out.weighing = "(" + station + "," + key + "," + quote(json_text(o, "scale")) + "," +
                 quote(json_text(o, "weight")) + "," + quote(json_text(o, "unit")) + "," +
                 quote(json_text(o, "mode")) + "," + quote_or_null(tare) + "," + reading_seq + "," +
                 quote_or_null(json_text(o, "reading_ts")) + "," +
                 (raw_hex.empty() ? std::string("NULL") : "'\\x" + raw_hex + "'") + "," +
                 quote_or_null(json_text(o, "operator")) + ",NULL,NULL," +
                 quote_or_null(json_text(o, "signature")) + "," +
                 quote_or_null(json_text(o, "agent_version")) + "," + created + ")";
  return out;
}

constexpr const char* kLogColumns =
    "(station_id, idempotency_key, seq, kind, payload, payload_sha256, outcome, reason, "
    "created_at, applied_at)";
constexpr const char* kWeighingColumns =
    "(station_id, idempotency_key, scale, weight, unit, mode, tare, reading_seq, reading_ts, raw, "
    "operator_id, decks, axles, signature, agent_version, captured_at)";

// One INSERT ... VALUES ... ON CONFLICT DO NOTHING per batch of `batch` rows: with `weighings`,
// BEGIN; both tables; COMMIT (one transaction per batch either way; psql autocommits otherwise).
void write_script(const fs::path& file, const std::string& schema, const std::vector<SqlRow>& rows,
                  std::size_t batch, bool weighings) {
  std::ofstream out(file, std::ios::trunc);
  for (std::size_t first = 0; first < rows.size(); first += batch) {
    const std::size_t last = std::min(rows.size(), first + batch);
    if (weighings) out << "BEGIN;\n";
    out << "INSERT INTO " << schema << ".mutation_log " << kLogColumns << " VALUES\n";
    for (std::size_t i = first; i < last; ++i) {
      out << rows[i].log << (i + 1 < last ? ",\n" : "\n");
    }
    out << "ON CONFLICT DO NOTHING;\n";
    if (weighings) {
      bool any = false;
      for (std::size_t i = first; i < last; ++i) {
        if (rows[i].weighing.empty()) continue;
        out << (any ? ",\n"
                    : std::string("INSERT INTO ") + schema + ".weighings " + kWeighingColumns +
                          " VALUES\n")
            << rows[i].weighing;
        any = true;
      }
      if (any) out << "\nON CONFLICT DO NOTHING;\n";
      out << "COMMIT;\n";
    }
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

struct TimedRun {
  std::string name;
  double seconds = 0;
  double per_s = 0;
  double client_cpu_s = 0;  // psql; or agent + backend
  double postgres_cpu_s = 0;
  std::int64_t rows = 0;  // checked after the run
  double load_before = 0;
  MachineCpu machine;  // during the run
};

TimedRun run_psql(const wt::PgCluster& pg, Pg& db, const std::string& name, const fs::path& script,
                  const std::string& schema, std::size_t expected, bool weighings) {
  db.scalar("TRUNCATE " + schema + ".mutation_log CASCADE");
  db.scalar("CHECKPOINT");
  TimedRun r;
  r.name = name;
  r.load_before = load_average();
  const pid_t master = postmaster_pid(pg);
  const double pg_before = postgres_cpu_s(master);
  const double children_before = rusage_cpu_s(RUSAGE_CHILDREN);
  const MachineCpu machine_before = machine_cpu();
  const auto start = Clock::now();
  const auto result = wt::run(
      {"/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
       "-p", std::to_string(pg.port()), "-U", "postgres", "-d", "weighlink", "-f", script.string()},
      std::chrono::seconds(3600));
  r.seconds = seconds_since(start);
  r.machine = machine_cpu() - machine_before;
  r.client_cpu_s = rusage_cpu_s(RUSAGE_CHILDREN) - children_before;
  r.postgres_cpu_s = postgres_cpu_s(master) - pg_before;
  if (result.exit_code != 0) {
    throw std::runtime_error("psql failed (exit " + std::to_string(result.exit_code) +
                             "): " + result.output.substr(0, 2000));
  }
  r.rows = db.number("SELECT count(*) FROM " + schema + ".mutation_log");
  if (weighings) {
    const auto w = db.number("SELECT count(*) FROM " + schema + ".weighings");
    if (w != static_cast<std::int64_t>(expected)) {
      throw std::runtime_error(name + ": " + std::to_string(w) + " weighings, expected " +
                               std::to_string(expected));
    }
  }
  if (r.rows != static_cast<std::int64_t>(expected)) {
    throw std::runtime_error(name + ": " + std::to_string(r.rows) + " rows, expected " +
                             std::to_string(expected));
  }
  r.per_s = static_cast<double>(expected) / r.seconds;
  return r;
}

struct DrainResult {
  FillResult fill;
  double payload_bytes_mean = 0;
  std::vector<TimedRun> runs;  // psql ml, psql ml+w, weighlink, psql ml, psql ml+w
  double agent_ready_s = 0;
  double first_row_s = 0;  // the high water first moved
  double agent_cpu_s = 0;
  double backend_cpu_s = 0;
  double agent_peak_rss_mb = 0;
  double backend_peak_rss_mb = 0;
  std::int64_t weighings = 0;
  std::vector<std::string> backend_flags;
  std::vector<Statement> statements;  // --pg-statements, during the weighlink drain
};

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
          kDrainStation,
          "--scale-source",
          "sim:static?rate=10",
          "--scale-protocol",
          "mt-continuous"};
}

DrainResult run_drain(const Options& options) {
  DrainResult out;
  wt::PgClusterOptions pg_options;
  pg_options.fsync = options.pg_fsync;
  wt::PgCluster pg(pg_options);
  if (options.pg_statements > 0) enable_statements(pg);
  wt::TempDir dir("wl-bench-drain");
  wt::migrate(pg.dsn());
  wt::write_secret_file(dir / "token", wt::add_station(pg.dsn(), kDrainStation) + "\n");
  out.backend_flags = serve_flags(options);
  wt::BackendServer backend(pg.dsn(), dir.path(), out.backend_flags);
  Pg db(pg.dsn());
  std::ofstream(dir / "agent.yaml", std::ios::trunc)
      << "replay_batch_size: " << options.batch << "\n";

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
  const auto rows = read_outbox(dir / "agent-data" / "outbox.db");
  if (rows.size() != options.backlog) {
    throw std::runtime_error("the outbox holds " + std::to_string(rows.size()) + " rows, not " +
                             std::to_string(options.backlog));
  }
  double payload_total = 0;
  for (const auto& row : rows) payload_total += static_cast<double>(row.payload.size());
  out.payload_bytes_mean = payload_total / static_cast<double>(rows.size());
  const auto applied_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  std::vector<SqlRow> sql_rows;
  sql_rows.reserve(rows.size());
  for (const auto& row : rows) sql_rows.push_back(sql_row(row, applied_at));
  // Copies of the backend's tables: same columns, defaults, checks, indexes and foreign keys.
  db.scalar(R"sql(
CREATE SCHEMA psql_log;
CREATE TABLE psql_log.mutation_log (LIKE public.mutation_log INCLUDING ALL);
ALTER TABLE psql_log.mutation_log ADD FOREIGN KEY (station_id) REFERENCES public.stations (id);
CREATE SCHEMA psql_both;
CREATE TABLE psql_both.mutation_log (LIKE public.mutation_log INCLUDING ALL);
ALTER TABLE psql_both.mutation_log ADD FOREIGN KEY (station_id) REFERENCES public.stations (id);
CREATE TABLE psql_both.weighings (LIKE public.weighings INCLUDING ALL);
ALTER TABLE psql_both.weighings ADD FOREIGN KEY (station_id, idempotency_key)
  REFERENCES psql_both.mutation_log (station_id, idempotency_key);
)sql");
  write_script(dir / "log.sql", "psql_log", sql_rows, options.batch, false);
  write_script(dir / "both.sql", "psql_both", sql_rows, options.batch, true);
  sql_rows.clear();
  sql_rows.shrink_to_fit();

  const auto psql_pair = [&](const char* suffix) {
    out.runs.push_back(run_psql(pg, db, std::string("psql, mutation_log") + suffix, dir / "log.sql",
                                "psql_log", options.backlog, false));
    out.runs.push_back(run_psql(pg, db, std::string("psql, mutation_log + weighings") + suffix,
                                dir / "both.sql", "psql_both", options.backlog, true));
  };
  psql_pair("");

  // weighlink: the agent again, now with the backend, until the high water reaches the backlog.
  db.scalar("CHECKPOINT");
  if (options.pg_statements > 0) db.scalar("SELECT pg_stat_statements_reset()");
  {
    TimedRun r;
    r.name = "weighlink agent -> backend";
    r.load_before = load_average();
    const pid_t master = postmaster_pid(pg);
    const double pg_before = postgres_cpu_s(master);
    const double backend_before = cpu_s(backend.process().pid());
    const std::string high_water_sql =
        std::string("SELECT high_water_seq FROM stations WHERE id = '") + kDrainStation + "'";
    std::filesystem::remove(dir / "agent.ready");
    auto argv = agent_argv(dir);
    argv.insert(argv.end(),
                {"--backend", backend.grpc(), "--station-token-file", (dir / "token").string()});
    const MachineCpu machine_before = machine_cpu();
    const auto start = Clock::now();
    wt::Process agent(argv, dir / "agent-drain.log");
    const auto target = static_cast<std::int64_t>(options.backlog);
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
    out.agent_cpu_s = cpu_s(agent.pid());
    out.backend_cpu_s = cpu_s(backend.process().pid()) - backend_before;
    r.client_cpu_s = out.agent_cpu_s + out.backend_cpu_s;
    r.postgres_cpu_s = postgres_cpu_s(master) - pg_before;
    out.agent_peak_rss_mb = status_mb(agent.pid(), "VmHWM");
    r.rows = db.number(std::string("SELECT count(*) FROM mutation_log WHERE station_id = '") +
                       kDrainStation + "'");
    out.weighings = db.number("SELECT count(*) FROM weighings");
    if (r.rows != target || out.weighings != target) {
      throw std::runtime_error("after the drain: " + std::to_string(r.rows) + " rows and " +
                               std::to_string(out.weighings) + " weighings, expected " +
                               std::to_string(target));
    }
    r.per_s = static_cast<double>(target) / r.seconds;
    out.runs.push_back(r);
    agent.terminate();
    if (options.pg_statements > 0) out.statements = top_statements(db, options.pg_statements);
  }
  out.backend_peak_rss_mb = status_mb(backend.process().pid(), "VmHWM");
  psql_pair(" (again)");
  backend.terminate();
  return out;
}

// ---------------------------------------------------------------------------------------------
// 2. Fan-in: simulated stations over gRPC.

// A capture-shaped payload like the agent's (agent/src/captures.cpp: a static weighing with eight
// evidence frames and a reference), different for every station and seq.
std::string fanin_payload(const std::string& station, std::uint64_t seq) {
  const unsigned long long weight = 20000 + (seq * 37) % 30000;
  const unsigned long long reading = 1000 + seq * 11;
  char frames[1400];
  int used = 0;
  for (int f = 0; f < 8; ++f) {
    used += std::snprintf(frames + used, sizeof frames - static_cast<std::size_t>(used),
                          R"j(%s{"seq":%llu,"ts":"2026-11-21T15:47:18.%03dZ","weight":"%llu",)j"
                          R"j("stable":true,"raw":"\u0002*0 0%05llu000000\r)"})j",
                          f ? "," : "", reading - 7 + static_cast<unsigned long long>(f),
                          100 * f + 17, weight, weight);
  }
  char buf[2400];
  const int len = std::snprintf(
      buf, sizeof buf,
      R"({"station_id":"%s","type":"static","scale":"main","weight":"%llu","unit":"kg",)"
      R"("mode":"gross","tare":"0","reading_seq":%llu,"reading_ts":"2026-11-21T15:47:18.919Z",)"
      R"j("protocol":"mt-continuous","raw":"\u0002*0 0%05llu000000\r)","operator":"op-0193",)j"
      R"("agent_version":"0.1.0","captured_at":"2026-11-21T15:47:18.923Z",)"
      R"("reference":{"ticket":"T-2026-%06llu","vehicle":"KCY 482H","trailer":"ZF 7731",)"
      R"("transporter":"Mombasa Freight Ltd","commodity":"cement, bagged","permit":"AL-88812"},)"
      R"("evidence":{"frames":[%s],"stale_after_ms":1000}})",
      station.c_str(), weight, reading, weight, static_cast<unsigned long long>(seq), frames);
  return std::string(buf, static_cast<std::size_t>(std::max(len, 0)));
}

// The mutation the station holds at `seq`, as the agent's worker sends it (fill_typed).
void fill_mutation(pb::Mutation& m, const std::string& station, std::uint64_t seq) {
  m.set_station_id(station);
  m.set_idempotency_key(station + "-" + std::to_string(seq));
  m.set_seq(seq);
  m.set_kind("weighing.captured");
  m.set_payload_json(fanin_payload(station, seq));
  m.set_created_at_unix_ms(1'795'276'038'923 + static_cast<std::int64_t>(seq) * 1000);
  auto* w = m.mutable_weighing_captured();
  const unsigned long long weight = 20000 + (seq * 37) % 30000;
  char raw[32];
  std::snprintf(raw, sizeof raw, "\x02*0 0%05llu000000\r)", weight);
  w->set_scale("main");
  w->set_weight(std::to_string(weight));
  w->set_unit("kg");
  w->set_mode("gross");
  w->set_tare("0");
  w->set_reading_seq(1000 + seq * 11);
  w->set_reading_ts("2026-11-21T15:47:18.919Z");
  w->set_raw(raw);
  w->set_operator_id("op-0193");
  w->set_agent_version("0.1.0");
}

// grpc::StatusCode's names, in the order of their values.
constexpr const char* kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

std::string code_name(grpc::StatusCode code) {
  const auto i = static_cast<std::size_t>(code);
  return i < std::size(kCodeNames) ? kCodeNames[i]
                                   : "code " + std::to_string(static_cast<int>(code));
}

struct StationResult {
  std::uint64_t high_water = 0;
  double finish_s = -1;  // -1: not drained
  std::map<grpc::StatusCode, std::uint64_t> hello_errors;
  std::map<grpc::StatusCode, std::uint64_t> replay_errors;
  std::uint64_t hello_calls = 0;
  std::uint64_t replay_calls = 0;
  std::uint64_t replay_ok = 0;
  std::uint64_t applied = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  std::uint64_t retry_after_hints = 0;
  std::uint64_t max_batch_trailers = 0;
  double waited_s = 0;  // in backoff
  std::vector<double> ok_latency_ms;
  std::map<std::string, std::string> messages;  // "Hello UNAVAILABLE" -> the first message
  std::size_t final_batch = 0;
  std::string fatal;
};

struct Trailers {
  std::optional<std::uint64_t> retry_after_ms;
  std::optional<std::uint64_t> max_batch;
};

Trailers read_trailers(const grpc::ClientContext& ctx) {
  Trailers t;
  for (const auto& [k, v] : ctx.GetServerTrailingMetadata()) {
    const std::string key(k.data(), k.size());
    try {
      if (key == "x-weighlink-retry-after-ms") t.retry_after_ms = std::stoull({v.data(), v.size()});
      if (key == "x-weighlink-max-batch") t.max_batch = std::stoull({v.data(), v.size()});
    } catch (const std::exception&) {
    }
  }
  return t;
}

// The agent's worker loop (sync/src/replay_grpc.cpp) over an in-memory backlog of seqs 1..total.
void run_station(const std::string& station, const std::string& token, pb::SyncService::Stub& stub,
                 std::uint64_t total, std::size_t max_batch, std::size_t fixed_batch,
                 Clock::time_point deadline, const Clock::time_point& start, std::latch& go,
                 std::atomic<std::uint64_t>& acked, StationResult& r) {
  wsync::AdaptiveBatch batch(max_batch, 50);
  const weighlink::base::BackoffPolicy policy;
  std::mt19937 rng(static_cast<std::uint32_t>(std::hash<std::string>{}(station)));
  std::uint64_t next = 1;  // the first seq not acknowledged
  std::uint32_t attempt = 0;
  bool need_hello = true;
  std::chrono::milliseconds retry_after{0};
  const auto context = [&] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  };
  const auto pressure = [&](const grpc::ClientContext& ctx, grpc::StatusCode code) {
    if (code != grpc::StatusCode::DEADLINE_EXCEEDED &&
        code != grpc::StatusCode::RESOURCE_EXHAUSTED) {
      return;
    }
    batch.on_pressure();
    const auto t = read_trailers(ctx);
    if (t.max_batch) {
      ++r.max_batch_trailers;
      batch.on_limit(*t.max_batch);
    }
    if (t.retry_after_ms) {
      ++r.retry_after_hints;
      retry_after = std::chrono::milliseconds(std::min<std::uint64_t>(*t.retry_after_ms, 60'000));
    }
  };
  go.arrive_and_wait();
  while (next <= total) {
    if (g_stop || Clock::now() > deadline) return;
    std::optional<grpc::StatusCode> failure;
    if (need_hello) {
      pb::HelloRequest req;
      req.set_station_id(station);
      req.set_agent_version("bench");
      req.set_acknowledged_seq(next - 1);
      req.set_last_seq(total);
      pb::HelloResponse res;
      auto ctx = context();
      ++r.hello_calls;
      const auto status = stub.Hello(ctx.get(), req, &res);
      if (status.ok()) {
        need_hello = false;
        // A restore: re-send what the backend lost. (Never skips ahead: a re-send of what it
        // holds is answered DUPLICATE.)
        next = std::min<std::uint64_t>(next, res.watermark().high_water_seq() + 1);
      } else {
        failure = status.error_code();
        ++r.hello_errors[status.error_code()];
        r.messages.try_emplace("Hello " + code_name(status.error_code()), status.error_message());
        pressure(*ctx, status.error_code());
      }
    }
    if (!failure) {
      const std::size_t size = fixed_batch ? fixed_batch : batch.size();
      const std::uint64_t last = std::min<std::uint64_t>(total, next + size - 1);
      pb::ReplayRequest req;
      req.set_station_id(station);
      for (std::uint64_t seq = next; seq <= last; ++seq) {
        fill_mutation(*req.add_mutations(), station, seq);
      }
      const auto sent = static_cast<std::size_t>(last - next + 1);
      pb::ReplayResponse res;
      auto ctx = context();
      ++r.replay_calls;
      const auto t0 = Clock::now();
      const auto status = stub.Replay(ctx.get(), req, &res);
      const auto latency = Clock::now() - t0;
      if (!status.ok()) {
        failure = status.error_code();
        ++r.replay_errors[status.error_code()];
        r.messages.try_emplace("Replay " + code_name(status.error_code()), status.error_message());
        pressure(*ctx, status.error_code());
      } else {
        ++r.replay_ok;
        r.ok_latency_ms.push_back(std::chrono::duration<double, std::milli>(latency).count());
        batch.on_answer(sent, std::chrono::duration_cast<std::chrono::milliseconds>(latency));
        std::uint64_t done = next - 1;
        for (const auto& result : res.results()) {
          switch (result.outcome()) {
            case pb::APPLIED:
              ++r.applied;
              break;
            case pb::DUPLICATE:
              ++r.duplicates;
              break;
            default:
              ++r.rejected;
              break;
          }
          done = std::max<std::uint64_t>(done, result.seq());
        }
        if (res.expected_seq() != 0 && res.expected_seq() <= next) {
          done = res.expected_seq() - 1;
        }
        if (res.results_size() == 0 && res.expected_seq() == 0) {
          failure = grpc::StatusCode::UNKNOWN;  // an empty answer: never seen; retried
          ++r.replay_errors[grpc::StatusCode::UNKNOWN];
        }
        if (done > next - 1) acked += done - (next - 1);
        next = done + 1;
        r.high_water = res.watermark().high_water_seq();
      }
    }
    if (failure) {
      ++attempt;
      // As the agent: after an overload refusal the Replay is retried without a new Hello.
      if (*failure != grpc::StatusCode::RESOURCE_EXHAUSTED) need_hello = true;
      const auto delay = std::max(
          weighlink::base::backoff_delay(policy, attempt - 1, static_cast<std::uint32_t>(rng())),
          std::exchange(retry_after, std::chrono::milliseconds(0)));
      r.waited_s += std::chrono::duration<double>(delay).count();
      std::this_thread::sleep_for(delay);
      continue;
    }
    attempt = 0;
  }
  r.finish_s = seconds_since(start);
  r.final_batch = fixed_batch ? fixed_batch : batch.size();
}

struct FaninResult {
  std::vector<std::string> backend_flags;
  double setup_s = 0;
  double drain_s = 0;  // until the last station's high water reached per_station
  bool drained = false;
  std::size_t stations_drained = 0;
  double first_station_s = 0;
  double median_station_s = 0;
  std::map<grpc::StatusCode, std::uint64_t> hello_errors;
  std::map<grpc::StatusCode, std::uint64_t> replay_errors;
  std::uint64_t hello_calls = 0;
  std::uint64_t replay_calls = 0;
  std::uint64_t replay_ok = 0;
  std::uint64_t applied = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  std::uint64_t retry_after_hints = 0;
  double waited_s_total = 0;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double latency_max_ms = 0;
  double mean_batch = 0;
  double backend_idle_rss_mb = 0;
  double backend_peak_rss_mb = 0;  // VmHWM
  double backend_rss_end_mb = 0;
  double backend_cpu_s = 0;
  double postgres_cpu_s = 0;
  double bench_cpu_s = 0;
  double load_before = 0;
  double load_after = 0;
  MachineCpu machine;
  std::int64_t rows = 0;
  std::int64_t weighings = 0;
  std::int64_t stations_at_high_water = 0;
  std::int64_t min_high_water = 0;
  std::int64_t max_high_water = 0;
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> messages;  // one message per call and status, first seen
  std::vector<std::uint64_t> acked_per_second;
  std::vector<Statement> statements;  // --pg-statements
};

FaninResult run_fanin(const Options& options) {
  FaninResult out;
  const auto setup_start = Clock::now();
  wt::PgClusterOptions pg_options;
  pg_options.fsync = options.pg_fsync;
  wt::PgCluster pg(pg_options);
  if (options.pg_statements > 0) enable_statements(pg);
  wt::TempDir dir("wl-bench-fanin");
  wt::migrate(pg.dsn());
  const std::size_t n = options.stations;
  std::vector<std::string> ids(n);
  std::vector<std::string> tokens(n);
  {
    std::printf("Fan-in: registering %zu stations...\n", n);
    std::fflush(stdout);
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::string error;
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (std::size_t i = next++; i < n && !g_stop; i = next++) {
          char id[32];
          std::snprintf(id, sizeof id, "fan-%03zu", i);
          ids[i] = id;
          try {
            tokens[i] = wt::add_station(pg.dsn(), ids[i]);
          } catch (const std::exception& e) {
            std::lock_guard lock(mu);
            error = e.what();
            g_stop = true;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    if (!error.empty()) throw std::runtime_error(error);
    check_stop();
  }
  out.backend_flags = serve_flags(options);
  wt::BackendServer backend(pg.dsn(), dir.path(), out.backend_flags);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  out.backend_idle_rss_mb = status_mb(backend.process().pid(), "VmRSS");

  // One channel per station: its own subchannel, hence its own TCP connection, as stations have.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<pb::SyncService::Stub>> stubs;
  for (std::size_t i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(
        grpc::CreateCustomChannel(backend.grpc(), grpc::InsecureChannelCredentials(), args));
    stubs.push_back(pb::SyncService::NewStub(channels.back()));
  }
  out.setup_s = seconds_since(setup_start);

  std::vector<StationResult> results(n);
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::size_t> exited{0};
  std::latch go(static_cast<std::ptrdiff_t>(n) + 1);
  Clock::time_point start;  // written before the latch opens
  const pid_t master = postmaster_pid(pg);
  Pg db(pg.dsn());
  db.scalar("CHECKPOINT");
  if (options.pg_statements > 0) db.scalar("SELECT pg_stat_statements_reset()");
  out.load_before = load_average();
  const double pg_before = postgres_cpu_s(master);
  const double backend_before = cpu_s(backend.process().pid());
  std::vector<std::thread> threads;
  threads.reserve(n);
  const std::uint64_t total = options.per_station;
  std::printf("Fan-in: %zu stations x %zu mutations, starting at once...\n", n,
              options.per_station);
  std::fflush(stdout);
  // Thread start-up is not timed: every station waits at the latch.
  const auto deadline_base = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      run_station(ids[i], tokens[i], *stubs[i], total, options.batch, options.fanin_batch,
                  deadline_base + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.timeout_s)),
                  start, go, acked, results[i]);
      ++exited;
    });
  }
  const double self_before = rusage_cpu_s(RUSAGE_SELF);
  const MachineCpu machine_before = machine_cpu();
  start = Clock::now();
  go.arrive_and_wait();
  const std::uint64_t target = total * n;
  auto next_sample = start + std::chrono::seconds(1);
  auto next_print = start + std::chrono::seconds(10);
  while (true) {
    if (g_stop || seconds_since(start) > options.timeout_s) break;
    if (exited.load() == n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Clock::now() >= next_sample) {
      out.acked_per_second.push_back(acked.load());
      next_sample += std::chrono::seconds(1);
    }
    if (Clock::now() >= next_print) {
      std::printf("  %.0f s: %llu of %llu acknowledged\n", seconds_since(start),
                  static_cast<unsigned long long>(acked.load()),
                  static_cast<unsigned long long>(target));
      std::fflush(stdout);
      next_print += std::chrono::seconds(10);
    }
  }
  for (auto& t : threads) t.join();
  out.machine = machine_cpu() - machine_before;
  out.bench_cpu_s = rusage_cpu_s(RUSAGE_SELF) - self_before;
  out.acked_per_second.push_back(acked.load());
  out.backend_cpu_s = cpu_s(backend.process().pid()) - backend_before;
  out.postgres_cpu_s = postgres_cpu_s(master) - pg_before;
  out.load_after = load_average();
  out.backend_peak_rss_mb = status_mb(backend.process().pid(), "VmHWM");
  out.backend_rss_end_mb = status_mb(backend.process().pid(), "VmRSS");
  out.metrics = backend_metrics(backend.http());
  if (options.pg_statements > 0) out.statements = top_statements(db, options.pg_statements);

  std::vector<double> latencies;
  std::vector<double> finishes;
  double batches_sent = 0;
  for (const auto& r : results) {
    for (const auto& [code, count] : r.hello_errors) out.hello_errors[code] += count;
    for (const auto& [code, count] : r.replay_errors) out.replay_errors[code] += count;
    out.hello_calls += r.hello_calls;
    out.replay_calls += r.replay_calls;
    out.replay_ok += r.replay_ok;
    out.applied += r.applied;
    out.duplicates += r.duplicates;
    out.rejected += r.rejected;
    out.retry_after_hints += r.retry_after_hints;
    for (const auto& [k, v] : r.messages) out.messages.try_emplace(k, v);
    out.waited_s_total += r.waited_s;
    latencies.insert(latencies.end(), r.ok_latency_ms.begin(), r.ok_latency_ms.end());
    batches_sent += static_cast<double>(r.ok_latency_ms.size());
    if (r.finish_s >= 0) finishes.push_back(r.finish_s);
  }
  out.stations_drained = finishes.size();
  out.drained = finishes.size() == n;
  if (!finishes.empty()) {
    std::sort(finishes.begin(), finishes.end());
    out.first_station_s = finishes.front();
    out.median_station_s = nearest_rank(finishes, 0.5);
    out.drain_s = finishes.back();
  }
  out.mean_batch =
      batches_sent > 0
          ? static_cast<double>(out.applied + out.duplicates + out.rejected) / batches_sent
          : 0;
  std::sort(latencies.begin(), latencies.end());
  out.latency_p50_ms = nearest_rank(latencies, 0.5);
  out.latency_p99_ms = nearest_rank(latencies, 0.99);
  out.latency_max_ms = latencies.empty() ? 0 : latencies.back();

  out.rows = db.number("SELECT count(*) FROM mutation_log");
  out.weighings = db.number("SELECT count(*) FROM weighings");
  out.stations_at_high_water =
      db.number("SELECT count(*) FROM stations WHERE high_water_seq = " + std::to_string(total));
  out.min_high_water = db.number("SELECT min(high_water_seq) FROM stations");
  out.max_high_water = db.number("SELECT max(high_water_seq) FROM stations");
  backend.terminate();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output.

json::object errors_json(const std::map<grpc::StatusCode, std::uint64_t>& errors) {
  json::object o;
  for (const auto& [code, count] : errors) o[code_name(code)] = count;
  return o;
}

std::string errors_text(const std::map<grpc::StatusCode, std::uint64_t>& errors) {
  if (errors.empty()) return "none";
  std::string text;
  for (const auto& [code, count] : errors) {
    if (!text.empty()) text += ", ";
    text += code_name(code) + " " + std::to_string(count);
  }
  return text;
}

std::uint64_t error_count(const std::map<grpc::StatusCode, std::uint64_t>& errors,
                          grpc::StatusCode code) {
  const auto it = errors.find(code);
  return it == errors.end() ? 0 : it->second;
}

json::array flags_json(const std::vector<std::string>& flags) {
  json::array a;
  for (const auto& f : flags) a.emplace_back(f);
  return a;
}

json::value print_drain(const DrainResult& d, const Options& options) {
  std::printf(
      "\nDrain of a %zu-mutation backlog (psql: batches of %zu rows, one transaction each;\n"
      "  weighlink: from the agent's start until high_water_seq = %zu; CPU s: psql, or agent +\n"
      "  backend; postgres: every server process of the cluster; others: the machine's busy CPU\n"
      "  seconds not accounted for by these (other work on the VM, this benchmark's polling);\n"
      "  idle and iowait: the machine's, both cores)\n",
      options.backlog, options.batch, options.backlog);
  std::printf("  %-40s %8s %8s %7s %10s %8s %8s %7s %5s\n", "run", "seconds", "mut/s", "CPU s",
              "postgres s", "others s", "idle s", "iowait", "load");
  json::array runs;
  for (const auto& r : d.runs) {
    std::printf("  %-40s %8.2f %8.0f %7.2f %10.2f %8.2f %8.2f %7.2f %5.2f\n", r.name.c_str(),
                r.seconds, r.per_s, r.client_cpu_s, r.postgres_cpu_s,
                std::max(0.0, r.machine.busy_s - r.client_cpu_s - r.postgres_cpu_s),
                r.machine.idle_s, r.machine.iowait_s, r.load_before);
    runs.push_back(json::object{{"name", r.name},
                                {"seconds", r.seconds},
                                {"mutations_per_s", r.per_s},
                                {"client_cpu_s", r.client_cpu_s},
                                {"postgres_cpu_s", r.postgres_cpu_s},
                                {"rows", r.rows},
                                {"machine_cpu", to_json(r.machine)},
                                {"load_average_before", r.load_before}});
  }
  // runs: 0 psql log, 1 psql both, 2 weighlink, 3 psql log again, 4 psql both again
  const double w = d.runs[2].per_s;
  const double log_mean = (d.runs[0].per_s + d.runs[3].per_s) / 2;
  const double both_mean = (d.runs[1].per_s + d.runs[4].per_s) / 2;
  std::printf(
      "  weighlink / psql mutation_log: %.2f (before %.2f, after %.2f; goal >= 0.6)\n"
      "  weighlink / psql mutation_log + weighings: %.2f (before %.2f, after %.2f)\n",
      w / log_mean, w / d.runs[0].per_s, w / d.runs[3].per_s, w / both_mean, w / d.runs[1].per_s,
      w / d.runs[4].per_s);
  std::printf(
      "  agent: ready file after %.2f s, first batch committed after %.2f s, CPU %.2f s, peak RSS "
      "%.1f MB; backend CPU %.2f s, peak RSS %.1f MB\n",
      d.agent_ready_s, d.first_row_s, d.agent_cpu_s, d.agent_peak_rss_mb, d.backend_cpu_s,
      d.backend_peak_rss_mb);
  std::printf("  backlog: %.0f-byte payloads on average, filled in %.1f s (%.0f captures/s)\n",
              d.payload_bytes_mean, d.fill.seconds,
              static_cast<double>(d.fill.captures) / d.fill.seconds);
  print_statements(d.statements);
  return json::object{{"backlog", options.backlog},
                      {"batch", options.batch},
                      {"backend_flags", flags_json(d.backend_flags)},
                      {"payload_bytes_mean", d.payload_bytes_mean},
                      {"fill", json::object{{"producers", options.producers},
                                            {"seconds", d.fill.seconds},
                                            {"captures", d.fill.captures},
                                            {"captures_per_s",
                                             static_cast<double>(d.fill.captures) / d.fill.seconds},
                                            {"retried", d.fill.retried}}},
                      {"runs", std::move(runs)},
                      {"agent_ready_s", d.agent_ready_s},
                      {"first_batch_committed_s", d.first_row_s},
                      {"agent_cpu_s", d.agent_cpu_s},
                      {"agent_peak_rss_mb", d.agent_peak_rss_mb},
                      {"backend_cpu_s", d.backend_cpu_s},
                      {"backend_peak_rss_mb", d.backend_peak_rss_mb},
                      {"ratio_weighlink_over_psql_log", w / log_mean},
                      {"ratio_weighlink_over_psql_log_before", w / d.runs[0].per_s},
                      {"ratio_weighlink_over_psql_log_after", w / d.runs[3].per_s},
                      {"ratio_weighlink_over_psql_both", w / both_mean},
                      {"pg_statements", statements_json(d.statements)}};
}

json::value print_fanin(const FaninResult& f, const Options& options) {
  const std::uint64_t target = options.stations * options.per_station;
  const auto re = grpc::StatusCode::RESOURCE_EXHAUSTED;
  const auto de = grpc::StatusCode::DEADLINE_EXCEEDED;
  std::string flags;
  for (const auto& s : f.backend_flags) flags += " " + s;
  std::printf(
      "\nFan-in: %zu stations x %zu mutations (%llu), all starting at once against one "
      "backend (serve%s)\n",
      options.stations, options.per_station, static_cast<unsigned long long>(target),
      flags.empty() ? " with default --workers and --max-queue" : flags.c_str());
  if (f.drained) {
    std::printf(
        "  drained in %.2f s (goal < 60 s): %.0f mutations/s; first station %.2f s, "
        "median %.2f s\n",
        f.drain_s, static_cast<double>(target) / f.drain_s, f.first_station_s, f.median_station_s);
  } else {
    std::printf("  NOT drained: %zu of %zu stations finished within %.0f s\n", f.stations_drained,
                options.stations, options.timeout_s);
  }
  std::printf(
      "  calls: Hello %llu, Replay %llu (%llu answered OK, %.1f mutations per answered "
      "batch; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms)\n",
      static_cast<unsigned long long>(f.hello_calls),
      static_cast<unsigned long long>(f.replay_calls), static_cast<unsigned long long>(f.replay_ok),
      f.mean_batch, f.latency_p50_ms, f.latency_p99_ms, f.latency_max_ms);
  std::printf("  errors: Hello: %s; Replay: %s\n", errors_text(f.hello_errors).c_str(),
              errors_text(f.replay_errors).c_str());
  for (const auto& [what, message] : f.messages) {
    std::printf("    %s, e.g.: %s\n", what.c_str(), message.c_str());
  }
  std::printf(
      "  RESOURCE_EXHAUSTED %llu, DEADLINE_EXCEEDED %llu; retry-after hints honoured "
      "%llu; time in backoff %.0f station-seconds\n",
      static_cast<unsigned long long>(error_count(f.hello_errors, re)) +
          static_cast<unsigned long long>(error_count(f.replay_errors, re)),
      static_cast<unsigned long long>(error_count(f.hello_errors, de)) +
          static_cast<unsigned long long>(error_count(f.replay_errors, de)),
      static_cast<unsigned long long>(f.retry_after_hints), f.waited_s_total);
  std::printf("  outcomes: applied %llu, duplicate %llu, rejected %llu\n",
              static_cast<unsigned long long>(f.applied),
              static_cast<unsigned long long>(f.duplicates),
              static_cast<unsigned long long>(f.rejected));
  std::printf(
      "  backend metrics: overloaded_total %.0f, unavailable_total %.0f, batches %.0f, "
      "applied %.0f, duplicate %.0f\n",
      metric(f.metrics, "weighlink_backend_overloaded_total"),
      metric(f.metrics, "weighlink_backend_unavailable_total"),
      metric(f.metrics, "weighlink_backend_replay_batches_total"),
      metric(f.metrics, "weighlink_backend_mutations_total{outcome=\"applied\"}"),
      metric(f.metrics, "weighlink_backend_mutations_total{outcome=\"duplicate\"}"));
  std::printf("  backend RSS: %.1f MB idle, peak (VmHWM) %.1f MB, %.1f MB at the end\n",
              f.backend_idle_rss_mb, f.backend_peak_rss_mb, f.backend_rss_end_mb);
  std::printf(
      "  CPU s: backend %.1f, postgres %.1f, this process (the %zu clients) %.1f; load "
      "average %.2f before, %.2f after\n",
      f.backend_cpu_s, f.postgres_cpu_s, options.stations, f.bench_cpu_s, f.load_before,
      f.load_after);
  std::printf(
      "  machine (both cores, until the last station finished): busy %.1f s, of which "
      "others %.1f s; idle %.1f s, iowait %.1f s\n",
      f.machine.busy_s,
      std::max(0.0, f.machine.busy_s - f.backend_cpu_s - f.postgres_cpu_s - f.bench_cpu_s),
      f.machine.idle_s, f.machine.iowait_s);
  const bool exact = f.rows == static_cast<std::int64_t>(target) &&
                     f.weighings == static_cast<std::int64_t>(target) &&
                     f.stations_at_high_water == static_cast<std::int64_t>(options.stations);
  std::printf(
      "  PostgreSQL: %lld mutation_log rows, %lld weighings, %lld of %zu stations at "
      "high water %zu (min %lld, max %lld): %s\n",
      static_cast<long long>(f.rows), static_cast<long long>(f.weighings),
      static_cast<long long>(f.stations_at_high_water), options.stations, options.per_station,
      static_cast<long long>(f.min_high_water), static_cast<long long>(f.max_high_water),
      exact ? "exact" : "NOT EXACT");
  print_statements(f.statements);
  json::object metrics;
  for (const auto& [k, v] : f.metrics) {
    if (k.rfind("weighlink_backend_station_", 0) == 0) continue;  // per-station gauges
    if (k.find("_bucket{") != std::string::npos) continue;
    metrics[k] = v;
  }
  json::array timeline;
  for (auto v : f.acked_per_second) timeline.push_back(v);
  json::object messages;
  for (const auto& [k, v] : f.messages) messages[k] = v;
  return json::object{
      {"stations", options.stations},
      {"per_station", options.per_station},
      {"batch", options.fanin_batch ? json::value(options.fanin_batch) : json::value("adaptive")},
      {"backend_flags", flags_json(f.backend_flags)},
      {"drained", f.drained},
      {"stations_drained", f.stations_drained},
      {"drain_s", f.drain_s},
      {"mutations_per_s", f.drained ? static_cast<double>(target) / f.drain_s : 0},
      {"first_station_s", f.first_station_s},
      {"median_station_s", f.median_station_s},
      {"hello_calls", f.hello_calls},
      {"replay_calls", f.replay_calls},
      {"replay_ok", f.replay_ok},
      {"mean_batch", f.mean_batch},
      {"replay_latency_ms",
       json::object{
           {"p50", f.latency_p50_ms}, {"p99", f.latency_p99_ms}, {"max", f.latency_max_ms}}},
      {"hello_errors", errors_json(f.hello_errors)},
      {"replay_errors", errors_json(f.replay_errors)},
      {"error_messages", std::move(messages)},
      {"retry_after_hints", f.retry_after_hints},
      {"backoff_station_seconds", f.waited_s_total},
      {"applied", f.applied},
      {"duplicates", f.duplicates},
      {"rejected", f.rejected},
      {"backend_idle_rss_mb", f.backend_idle_rss_mb},
      {"backend_peak_rss_mb", f.backend_peak_rss_mb},
      {"backend_rss_end_mb", f.backend_rss_end_mb},
      {"backend_cpu_s", f.backend_cpu_s},
      {"postgres_cpu_s", f.postgres_cpu_s},
      {"bench_cpu_s", f.bench_cpu_s},
      {"load_average_before", f.load_before},
      {"load_average_after", f.load_after},
      {"machine_cpu", to_json(f.machine)},
      {"rows", f.rows},
      {"weighings", f.weighings},
      {"stations_at_high_water", f.stations_at_high_water},
      {"exact", exact},
      {"backend_metrics", std::move(metrics)},
      {"acknowledged_by_second", std::move(timeline)},
      {"pg_statements", statements_json(f.statements)}};
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "bench_replay: %s\n", message.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: bench_replay [--backlog 100000] [--producers 16] [--batch 200]\n"
          "                    [--stations 200] [--per-station 5000] [--fanin-batch adaptive|N]\n"
          "                    [--workers N] [--max-queue N] [--pg-fsync on|off]\n"
          "                    [--parts drain,fanin] [--timeout S] [--pg-statements N]\n"
          "                    [--json FILE]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--backlog") {
      o.backlog = std::stoul(value);
    } else if (flag == "--producers") {
      o.producers = std::stoi(value);
    } else if (flag == "--batch") {
      o.batch = std::stoul(value);
    } else if (flag == "--stations") {
      o.stations = std::stoul(value);
    } else if (flag == "--per-station") {
      o.per_station = std::stoul(value);
    } else if (flag == "--fanin-batch") {
      o.fanin_batch = value == "adaptive" ? 0 : std::stoul(value);
    } else if (flag == "--workers") {
      o.workers = value;
    } else if (flag == "--max-queue") {
      o.max_queue = value;
    } else if (flag == "--pg-fsync") {
      if (value != "on" && value != "off") usage_error("--pg-fsync takes on or off");
      o.pg_fsync = value == "on";
    } else if (flag == "--parts") {
      o.drain = value.find("drain") != std::string::npos;
      o.fanin = value.find("fanin") != std::string::npos;
    } else if (flag == "--timeout") {
      o.timeout_s = std::stod(value);
    } else if (flag == "--pg-statements") {
      o.pg_statements = std::stoi(value);
    } else if (flag == "--json") {
      o.json_path = value;
    } else {
      usage_error("unknown flag " + flag + " (--help)");
    }
  }
  if (o.backlog == 0 || o.producers < 1 || o.batch == 0 || o.stations == 0 || o.per_station == 0) {
    usage_error("--backlog, --producers, --batch, --stations and --per-station must be >= 1");
  }
  if (!o.drain && !o.fanin) usage_error("--parts takes drain, fanin or drain,fanin");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const std::exception& e) {  // std::stoul and friends on a malformed value
    usage_error(std::string("bad flag value (") + e.what() + "); --help");
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const double load_before = load_average();
  std::printf("bench_replay: %u hardware threads, load average %.2f, PostgreSQL fsync %s\n",
              std::thread::hardware_concurrency(), load_before, options.pg_fsync ? "on" : "off");
  std::fflush(stdout);
  json::object root{{"benchmark", "replay"},
                    {"hardware_threads", std::thread::hardware_concurrency()},
                    {"pg_fsync", options.pg_fsync},
                    {"load_average_before", load_before}};
  try {
    if (options.drain) {
      const auto d = run_drain(options);
      root["drain"] = print_drain(d, options);
      std::fflush(stdout);
    }
    if (options.fanin) {
      const auto f = run_fanin(options);
      root["fanin"] = print_fanin(f, options);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_replay: %s\n", e.what());
    return 1;
  }
  root["load_average_after"] = load_average();
  if (!options.json_path.empty() && !weighlink::bench::write_json(options.json_path, root)) {
    std::fprintf(stderr, "bench_replay: cannot write %s\n", options.json_path.c_str());
    return 1;
  }
  return 0;
}
