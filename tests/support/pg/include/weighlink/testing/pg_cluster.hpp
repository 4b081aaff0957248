#pragma once
// A throwaway PostgreSQL 15 cluster for integration tests: initdb into a fresh /tmp directory,
// started on a free loopback port, database `weighlink` created. Runs the server as `postgres`
// when the tests run as root (PostgreSQL refuses root). The destructor stops it (immediate) and
// removes the directory, leaving no process behind.
//
// Threading: not thread-safe; one owner.

#include <filesystem>
#include <string>
#include <vector>

namespace weighlink::testing {

struct PgClusterOptions {
  // fsync off is much faster; keep it on for tests about durability across a PostgreSQL crash.
  bool fsync = false;
  // initdb --data-checksums: pages that change on disk fail their check when read (corruption
  // tests).
  bool data_checksums = false;
  std::string bin_dir = "/usr/lib/postgresql/15/bin";
};

class PgCluster {
 public:
  // Throws std::runtime_error (with the server log's tail) when the cluster cannot be made.
  explicit PgCluster(PgClusterOptions options = {});
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // libpq keyword DSN of the `weighlink` database.
  [[nodiscard]] std::string dsn() const;
  [[nodiscard]] std::string dsn(const std::string& database) const;
  [[nodiscard]] unsigned short port() const noexcept { return port_; }
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

  // First column of the first row of `sql` on the `weighlink` database, as text ("" for NULL).
  // Throws std::runtime_error on error.
  [[nodiscard]] std::string query_scalar(const std::string& sql) const;
  // The same on another database of the cluster.
  [[nodiscard]] std::string query_scalar(const std::string& sql, const std::string& database) const;

  // Stops the server (fast shutdown by default; immediate simulates a crash) and starts it
  // again on the same port, for restart tests.
  void stop(bool immediate = false);
  void start();
  [[nodiscard]] bool running() const noexcept { return running_; }

  // The server log so far (for failure messages).
  [[nodiscard]] std::string log_tail(std::size_t max_bytes = 4000) const;

 private:
  // Runs a PostgreSQL program (as `postgres` when root); returns its exit status (-1 on timeout).
  int run_pg(const std::string& program, const std::vector<std::string>& args, int timeout_s);
  void start_on(unsigned short port);

  PgClusterOptions options_;
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  bool running_ = false;
};

}  // namespace weighlink::testing
