#include "weighlink/recovery/scratch_cluster.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "weighlink/base/subprocess.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;

bool is_root() { return ::geteuid() == 0; }

// The first folder on the way to `dir` that the user uid:gid may not enter, or "" (all may).
std::string first_closed_folder(const fs::path& dir, uid_t uid, gid_t gid) {
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return p.string();
    const bool may = st.st_uid == uid   ? (st.st_mode & S_IXUSR) != 0
                     : st.st_gid == gid ? (st.st_mode & S_IXGRP) != 0
                                        : (st.st_mode & S_IXOTH) != 0;
    if (!may) return p.string();
    if (p == p.root_path()) break;
  }
  return {};
}

// The clusters alive in this process, for remove_on_signals().
std::mutex g_live_mutex;
std::vector<ScratchCluster*> g_live;

base::Error failure(std::errc code, std::string message) {
  return base::Error{std::make_error_code(code), std::move(message)};
}

std::string tail_of(const fs::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

}  // namespace

std::string newest_postgres_bin_dir(const std::string& program) {
  std::error_code ec;
  int best = -1;
  std::string dir;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    const long major = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0') continue;
    const auto bin = entry.path() / "bin";
    if (major > best && ::access((bin / program).c_str(), X_OK) == 0) {
      best = static_cast<int>(major);
      dir = bin.string();
    }
  }
  return dir;
}

base::Expected<std::unique_ptr<ScratchCluster>> ScratchCluster::start(
    const ScratchOptions& options) {
  std::unique_ptr<ScratchCluster> cluster(new ScratchCluster());
  cluster->bin_dir_ = options.bin_dir.empty() ? newest_postgres_bin_dir() : options.bin_dir;
  // Absolute: the server's -k and libpq's host= both need it (a relative host= is a host name).
  std::error_code absolute_ec;
  fs::path parent =
      options.parent.empty() ? options.parent : fs::absolute(options.parent, absolute_ec);
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  // Unix socket paths are limited to 107 bytes: keep the directory name short.
  std::string pattern = (parent / "wl-scratch.XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    const int err = errno;
    return base::Error{std::error_code(err, std::generic_category()),
                       "cannot make a directory under " + parent.string() + ": " +
                           std::strerror(err) + "; give a writable --scratch-dir"};
  }
  cluster->dir_ = pattern;
  {
    std::lock_guard lock(g_live_mutex);
    g_live.push_back(cluster.get());
  }
  if (cluster->dir_.string().size() > 80) {
    // The destructor removes the directory.
    return failure(std::errc::filename_too_long,
                   "the scratch directory path " + cluster->dir_.string() +
                       " is too long for PostgreSQL's Unix socket; give a shorter --scratch-dir");
  }
  if (is_root()) {
    const passwd* pg = ::getpwnam("postgres");
    if (pg == nullptr || ::chown(cluster->dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
      return failure(std::errc::permission_denied,
                     "running as root, the scratch cluster must run as the `postgres` user, which "
                     "is missing (install postgresql) or cannot own " +
                         cluster->dir_.string());
    }
    if (const auto closed = first_closed_folder(cluster->dir_, pg->pw_uid, pg->pw_gid);
        !closed.empty()) {
      return failure(std::errc::permission_denied,
                     "running as root, the scratch cluster's server runs as `postgres`, which may "
                     "not enter " +
                         closed + "; give a --scratch-dir it can reach (e.g. under /tmp)");
    }
  }
  const auto data = (cluster->dir_ / "data").string();
  const int init = cluster->run_program(
      "initdb",
      {"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"},
      options.start_timeout_s);
  if (init == -1 && cluster->bin_dir_.empty()) {
    return failure(std::errc::no_such_file_or_directory,
                   "cannot run initdb: install postgresql (its server programs make the scratch "
                   "cluster)");
  }
  if (init != 0) {
    return failure(std::errc::io_error, "initdb of the scratch cluster failed (exit " +
                                            std::to_string(init) + "): " + cluster->log_tail());
  }
  // Nothing listens on TCP; durability is off: the cluster is thrown away.
  const std::string server_options = "-c listen_addresses='' -k " + cluster->dir_.string() +
                                     " -c fsync=off -c full_page_writes=off"
                                     " -c synchronous_commit=off -c max_wal_size=4GB"
                                     " -c checkpoint_timeout=30min -c autovacuum=off"
                                     " -c maintenance_work_mem=256MB";
  const int started =
      cluster->run_program("pg_ctl",
                           {"-D", data, "-l", (cluster->dir_ / "server.log").string(), "-w", "-t",
                            std::to_string(options.start_timeout_s), "-o", server_options, "start"},
                           options.start_timeout_s + 10);
  cluster->running_ = true;  // a half-started server is stopped by the destructor too
  if (started != 0) {
    return failure(std::errc::io_error, "the scratch cluster did not start (exit " +
                                            std::to_string(started) + "): " + cluster->log_tail());
  }
  return cluster;
}

ScratchCluster::~ScratchCluster() {
  // Under the lock: a signal arriving now waits until this cluster is gone, then ends the process.
  std::lock_guard lock(g_live_mutex);
  g_live.erase(std::remove(g_live.begin(), g_live.end(), this), g_live.end());
  stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

void ScratchCluster::remove_on_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t signals;
    sigemptyset(&signals);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, sig);
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([signals] {
      int sig = 0;
      if (::sigwait(&signals, &sig) != 0) return;
      {
        std::lock_guard lock(g_live_mutex);
        for (auto* cluster : g_live) {
          cluster->stop();
          std::error_code ec;
          fs::remove_all(cluster->dir_, ec);
        }
      }
      std::fprintf(stderr,
                   "weighlink-backend: stopped by signal %d; the disposable cluster is removed\n",
                   sig);
      std::_Exit(128 + sig);
    }).detach();
  });
}

void ScratchCluster::stop() noexcept {
  // A server still starting (pg_ctl start has not returned: a signal came meanwhile) has its pid
  // file already: stop it too.
  std::error_code ec;
  if (!running_ && !fs::exists(dir_ / "data" / "postmaster.pid", ec)) return;
  running_ = false;
  (void)run_program(
      "pg_ctl", {"-D", (dir_ / "data").string(), "-m", "immediate", "-w", "-t", "30", "stop"}, 40);
  // Whatever pg_ctl could not stop is killed through its pid file.
  base::kill_pid_file_process(dir_ / "data" / "postmaster.pid");
}

std::string ScratchCluster::dsn(const std::string& database) const {
  return "host=" + dir_.string() + " user=postgres dbname=" + database;
}

std::string ScratchCluster::log_tail(std::size_t max_bytes) const {
  return "[tools] " + tail_of(dir_ / "tools.log", max_bytes / 2) + " [server] " +
         tail_of(dir_ / "server.log", max_bytes / 2);
}

int ScratchCluster::run_program(const std::string& program, const std::vector<std::string>& args,
                                int timeout_s, As as) const {
  std::vector<std::string> argv;
  if (as == As::server && is_root()) argv = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  argv.push_back(bin_dir_.empty() ? program : (fs::path(bin_dir_) / program).string());
  argv.insert(argv.end(), args.begin(), args.end());
  return base::run_logged(argv, dir_ / "tools.log", std::chrono::seconds(timeout_s));
}

}  // namespace weighlink::recovery
