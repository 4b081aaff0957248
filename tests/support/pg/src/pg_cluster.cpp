#include "weighlink/testing/pg_cluster.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "weighlink/base/subprocess.hpp"

namespace weighlink::testing {
namespace {

namespace fs = std::filesystem;

bool port_is_free(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return free;
}

unsigned short random_port() {
  static std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> dist(20000, 59999);
  for (int i = 0; i < 200; ++i) {
    const auto port = static_cast<unsigned short>(dist(rng));
    if (port_is_free(port)) return port;
  }
  throw std::runtime_error("PgCluster: no free loopback port found");
}

struct ConnDeleter {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};

std::string exec_scalar(const std::string& dsn, const std::string& sql) {
  // Bounded: a stopped server must fail the helper, not hang the test.
  std::unique_ptr<PGconn, ConnDeleter> conn(PQconnectdb((dsn + " connect_timeout=5").c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("PgCluster: cannot connect (" + dsn +
                             "): " + (conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error("PgCluster: query failed: " + sql + ": " +
                             PQresultErrorMessage(result.get()));
  }
  if (status != PGRES_TUPLES_OK || PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) {
    return {};
  }
  return PQgetvalue(result.get(), 0, 0);
}

bool is_root() { return ::geteuid() == 0; }

}  // namespace

PgCluster::PgCluster(PgClusterOptions options) : options_(std::move(options)) {
  std::string pattern = "/tmp/wl-pg.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("PgCluster: mkdtemp under /tmp failed");
  }
  dir_ = pattern;
  try {
    if (is_root()) {
      // PostgreSQL refuses to run as root: hand the directory to `postgres`.
      const passwd* pg = ::getpwnam("postgres");
      if (pg == nullptr)
        throw std::runtime_error("PgCluster: running as root but no postgres user");
      if (::chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
        throw std::runtime_error("PgCluster: chown " + dir_.string() + " failed");
      }
    }
    std::vector<std::string> initdb = {"-D",       (dir_ / "data").string(), "-U",
                                       "postgres", "--auth=trust",           "-E",
                                       "UTF8",     "--locale=C.UTF-8",       "--no-sync"};
    if (options_.data_checksums) initdb.emplace_back("--data-checksums");
    const int rc = run_pg("initdb", initdb, 120);
    if (rc != 0) {
      throw std::runtime_error("PgCluster: initdb failed (exit " + std::to_string(rc) +
                               "): " + log_tail());
    }
    // A random free port can be taken between the check and the bind: retry with another.
    std::string last_error;
    for (int attempt = 0; attempt < 5 && !running_; ++attempt) {
      try {
        start_on(random_port());
      } catch (const std::exception& e) {
        last_error = e.what();
      }
    }
    if (!running_) throw std::runtime_error(last_error);
    exec_scalar(dsn("postgres"), "CREATE DATABASE weighlink");
  } catch (...) {
    if (running_) stop(true);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

PgCluster::~PgCluster() {
  if (running_) {
    run_pg("pg_ctl", {"-D", (dir_ / "data").string(), "-m", "immediate", "-w", "-t", "30", "stop"},
           40);
  }
  // Whatever pg_ctl could not stop (timeout, broken data dir) is killed via its pid file.
  weighlink::base::kill_pid_file_process(dir_ / "data" / "postmaster.pid");
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgCluster::dsn() const { return dsn("weighlink"); }

std::string PgCluster::dsn(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

std::string PgCluster::query_scalar(const std::string& sql) const {
  return exec_scalar(dsn(), sql);
}

std::string PgCluster::query_scalar(const std::string& sql, const std::string& database) const {
  return exec_scalar(dsn(database), sql);
}

void PgCluster::stop(bool immediate) {
  if (!running_) return;
  const int rc = run_pg("pg_ctl",
                        {"-D", (dir_ / "data").string(), "-m", immediate ? "immediate" : "fast",
                         "-w", "-t", "30", "stop"},
                        40);
  if (rc != 0) throw std::runtime_error("PgCluster: pg_ctl stop failed: " + log_tail());
  running_ = false;
}

void PgCluster::start() {
  if (running_) return;
  start_on(port_);
}

void PgCluster::start_on(unsigned short port) {
  std::ostringstream server_options;
  server_options << "-p " << port << " -k " << dir_.string()
                 << " -c listen_addresses=127.0.0.1 -c fsync=" << (options_.fsync ? "on" : "off");
  const int rc = run_pg("pg_ctl",
                        {"-D", (dir_ / "data").string(), "-l", (dir_ / "server.log").string(), "-w",
                         "-t", "30", "-o", server_options.str(), "start"},
                        45);
  if (rc != 0) {
    // pg_ctl may have left a half-started server behind: make sure it is gone.
    run_pg("pg_ctl", {"-D", (dir_ / "data").string(), "-m", "immediate", "-w", "-t", "10", "stop"},
           15);
    throw std::runtime_error("PgCluster: pg_ctl start on port " + std::to_string(port) +
                             " failed (exit " + std::to_string(rc) + "): " + log_tail());
  }
  port_ = port;
  running_ = true;
}

int PgCluster::run_pg(const std::string& program, const std::vector<std::string>& args,
                      int timeout_s) {
  std::vector<std::string> argv;
  if (is_root()) argv = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  argv.push_back((fs::path(options_.bin_dir) / program).string());
  argv.insert(argv.end(), args.begin(), args.end());
  return weighlink::base::run_logged(argv, dir_ / "tools.log", std::chrono::seconds(timeout_s));
}

std::string PgCluster::log_tail(std::size_t max_bytes) const {
  std::string text;
  for (const char* name : {"tools.log", "server.log"}) {
    std::ifstream in(dir_ / name, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    text += std::string("[") + name + "] " + buffer.str();
  }
  if (text.size() > max_bytes) text = text.substr(text.size() - max_bytes);
  return text;
}

}  // namespace weighlink::testing
