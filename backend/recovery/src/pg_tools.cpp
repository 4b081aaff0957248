#include "pg_tools.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "weighlink/base/hash.hpp"
#include "weighlink/base/subprocess.hpp"
#include "weighlink/pg/pg.hpp"

namespace weighlink::recovery {

std::string server_major(std::string_view server_version_num) {
  return std::string(server_version_num.substr(
      0, server_version_num.size() > 4 ? server_version_num.size() - 4 : 0));
}

std::string pg_program_for(std::string_view program, std::string_view server_version_num) {
  const std::string versioned =
      "/usr/lib/postgresql/" + server_major(server_version_num) + "/bin/" + std::string(program);
  return ::access(versioned.c_str(), X_OK) == 0 ? versioned : std::string(program);
}

ProgramRun run_program(const std::vector<std::string>& argv,
                       const std::vector<std::string>& environment) {
  base::CommandOptions options;
  options.environment = environment;
  auto ran = base::run_command(argv, options);
  ProgramRun result;
  result.status = ran.started ? ran.exit_status : -1;
  result.output = std::move(ran.out);
  result.errors = std::move(ran.err);
  return result;
}

std::string condense_errors(std::string_view errors) {
  constexpr std::size_t kMaxLines = 8;
  constexpr std::size_t kMaxLine = 300;
  std::string out;
  std::size_t lines = 0;
  std::istringstream in{std::string(errors)};
  std::string line;
  while (std::getline(in, line) && lines < kMaxLines) {
    for (const std::string_view prefix : {"pg_restore: ", "psql: ", "vacuumdb: "}) {
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
  const auto tool = pg::dsn_for_tool(dsn);  // the password goes in the environment, not argv
  for (const char* section : {"pre-data", "data", "post-data"}) {
    std::vector<std::string> argv = {pg_restore,
                                     "--section=" + std::string(section),
                                     "--exit-on-error",
                                     "--no-owner",
                                     "--no-privileges",
                                     "--no-password",
                                     "--dbname=" + tool.dsn};
    // Definitions run serially in one connection anyway.
    if (std::string_view(section) != "pre-data") {
      argv.push_back("--jobs=" + std::to_string(jobs < 1 ? 1 : jobs));
    }
    argv.push_back(dump.string());
    const auto started = std::chrono::steady_clock::now();
    const auto ran = run_program(argv, tool.environment);
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

}  // namespace weighlink::recovery
