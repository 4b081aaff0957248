#include "pg_tools.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "weighlink/sync/hash.hpp"

extern char** environ;

namespace weighlink::backend {
namespace {

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// An unlinked temporary file for a child's output: gone however we leave.
int unnamed_temp_file() {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string name = (dir / "weighlink-backend.XXXXXX").string();
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(name.c_str());
  return fd;
}

std::string read_back(int fd) {
  std::string text;
  std::array<char, 4096> buffer{};
  off_t offset = 0;
  ssize_t n = 0;
  while ((n = ::pread(fd, buffer.data(), buffer.size(), offset)) > 0) {
    text.append(buffer.data(), static_cast<std::size_t>(n));
    offset += n;
  }
  return text;
}

}  // namespace

std::string server_major(std::string_view server_version_num) {
  return std::string(server_version_num.substr(
      0, server_version_num.size() > 4 ? server_version_num.size() - 4 : 0));
}

std::string pg_program_for(std::string_view program, std::string_view server_version_num) {
  const std::string versioned =
      "/usr/lib/postgresql/" + server_major(server_version_num) + "/bin/" + std::string(program);
  return ::access(versioned.c_str(), X_OK) == 0 ? versioned : std::string(program);
}

ProgramRun run_program(const std::vector<std::string>& argv) {
  ProgramRun result;
  Fd output{unnamed_temp_file()};
  Fd errors{unnamed_temp_file()};
  if (output.fd < 0 || errors.fd < 0) {
    result.errors = "cannot create a temporary file for its output";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, errors.fd, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return result;
  int status = 0;
  pid_t waited = 0;
  while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited != pid) return result;
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.output = read_back(output.fd);
  result.errors = read_back(errors.fd);
  return result;
}

std::optional<std::string> file_sha256(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) return std::nullopt;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1) return std::nullopt;
  return sync::to_hex(std::span(digest.data(), length));
}

std::string condense_errors(std::string_view errors) {
  constexpr std::size_t kMaxLines = 8;
  constexpr std::size_t kMaxLine = 300;
  std::string out;
  std::size_t lines = 0;
  std::istringstream in{std::string(errors)};
  std::string line;
  while (std::getline(in, line) && lines < kMaxLines) {
    for (const std::string_view prefix : {"pg_restore: ", "psql: "}) {
      if (line.starts_with(prefix)) line.erase(0, prefix.size());
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.empty() || line == "while PROCESSING TOC:" ||
        line.starts_with("warning: errors ignored on restore")) {
      continue;
    }
    if (line.size() > kMaxLine) line = line.substr(0, kMaxLine) + "...";
    out += (out.empty() ? "" : " | ") + line;
    ++lines;
  }
  return out.empty() ? "no message" : out;
}

SectionsRestore restore_sections(const std::string& pg_restore, const std::filesystem::path& dump,
                                 const std::string& dsn, int jobs,
                                 const std::function<void(const SectionTiming&)>& on_section) {
  SectionsRestore result;
  for (const char* section : {"pre-data", "data", "post-data"}) {
    std::vector<std::string> argv = {pg_restore,        "--section=" + std::string(section),
                                     "--exit-on-error", "--no-owner",
                                     "--no-privileges", "--no-password",
                                     "--dbname=" + dsn};
    // Definitions run serially in one connection anyway.
    if (std::string_view(section) != "pre-data") {
      argv.push_back("--jobs=" + std::to_string(jobs < 1 ? 1 : jobs));
    }
    argv.push_back(dump.string());
    const auto started = std::chrono::steady_clock::now();
    const auto ran = run_program(argv);
    if (ran.status != 0) {
      result.failed_section = section;
      result.status = ran.status;
      result.errors = ran.status < 0 ? "cannot run " + pg_restore +
                                           ": install the PostgreSQL "
                                           "client programs"
                                     : condense_errors(ran.errors);
      return result;
    }
    result.timings.push_back(
        {section,
         std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()});
    if (on_section) on_section(result.timings.back());
  }
  return result;
}

}  // namespace weighlink::backend
