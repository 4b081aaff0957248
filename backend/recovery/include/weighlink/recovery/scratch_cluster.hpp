#pragma once
// A disposable PostgreSQL cluster that verify-backup and drill start and remove themselves:
// initdb into a fresh directory, the server listening on a Unix socket in that directory only (no
// TCP port: nothing outside this machine, nor another user's process through the network, can
// reach it, and the production server is never a target), durability off (it is thrown away), and
// stopped (immediate) and deleted by the destructor, leaving no process behind. As root it runs
// the server as `postgres`, which PostgreSQL requires.
//
// Threading: one owner.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::recovery {

struct ScratchOptions {
  // Where the cluster's directory is made; the default is $TMPDIR or /tmp.
  std::filesystem::path parent;
  // PostgreSQL's programs (initdb, pg_ctl, pg_restore); empty: the newest
  // /usr/lib/postgresql/<major>/bin with an initdb, else PATH.
  std::string bin_dir;
  // Seconds initdb and the server's start may take.
  int start_timeout_s = 120;
};

class ScratchCluster {
 public:
  // Makes and starts the cluster; on failure the error says why (with the server log's tail) and
  // nothing is left behind. Codes: the system's error when the directory cannot be made,
  // filename_too_long, permission_denied (as root: no `postgres` user, or it cannot reach the
  // directory), no_such_file_or_directory (no initdb), io_error (initdb or the server failed).
  [[nodiscard]] static base::Expected<std::unique_ptr<ScratchCluster>> start(
      const ScratchOptions& options);
  ~ScratchCluster();
  ScratchCluster(const ScratchCluster&) = delete;

  // For a command that owns clusters (verify-backup, drill): SIGINT, SIGTERM and SIGHUP stop and
  // remove every live cluster, then end the process with 128 + the signal. (pg_ctl starts the
  // server in a session of its own, so a Ctrl-C or a cron timeout would otherwise leave it
  // running.) Call it first, before any other thread starts: it blocks those signals in the
  // calling thread, whose mask new threads inherit, and waits for them on a thread of its own.
  static void remove_on_signals();
  ScratchCluster& operator=(const ScratchCluster&) = delete;

  // libpq DSN of `database` (over the cluster's Unix socket).
  [[nodiscard]] std::string dsn(const std::string& database) const;
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
  // The directory of PostgreSQL's programs this cluster runs (pg_restore must come from it too).
  [[nodiscard]] const std::string& bin_dir() const noexcept { return bin_dir_; }
  // The last `max_bytes` of the tools' and the server's logs, for error messages.
  [[nodiscard]] std::string log_tail(std::size_t max_bytes = 2000) const;
  // Runs one of PostgreSQL's programs from bin_dir(), its output appended to the cluster's
  // tools log; the exit status, -1 when it could not run or timed out. The server's own programs
  // (initdb, pg_ctl) run as `postgres` when we are root; clients (pg_restore, psql) run as we are,
  // so that they read the files we can read.
  enum class As { server, client };
  [[nodiscard]] int run_program(const std::string& program, const std::vector<std::string>& args,
                                int timeout_s, As as = As::server) const;
  // The tools log (clients' stderr lands there too).
  [[nodiscard]] std::filesystem::path tools_log() const { return dir_ / "tools.log"; }

 private:
  ScratchCluster() = default;
  void stop() noexcept;

  std::filesystem::path dir_;
  std::string bin_dir_;
  bool running_ = false;
};

// The newest /usr/lib/postgresql/<major>/bin that has `program`, or "" (use PATH).
[[nodiscard]] std::string newest_postgres_bin_dir(const std::string& program = "initdb");

}  // namespace weighlink::recovery
