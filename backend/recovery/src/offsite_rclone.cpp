// An rclone remote behind the Store interface: every operation runs `rclone` (run_command) with
// bounded timeouts and retries, its stderr kept for the error message. The flags and the rclone
// 1.60 behaviours they work around are in docs/decisions/0004-offsite-through-rclone.md.
#include "offsite_stores.hpp"
#include "weighlink/base/subprocess.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

std::string seconds_flag(seconds s) { return std::to_string(s.count()) + "s"; }

// A local path as rclone must see it: absolute, so that a ':' in it ("./a:b.dump") never makes
// rclone read it as a remote.
std::string local_arg(const fs::path& path) {
  std::error_code ec;
  const auto absolute = fs::absolute(path, ec);
  return (ec ? path : absolute).string();
}

class RcloneStore final : public Store {
 public:
  RcloneStore(Location location, RcloneOptions options)
      : location_(std::move(location)), options_(std::move(options)) {}

  [[nodiscard]] const Location& location() const override { return location_; }

  OffsiteResult<std::vector<StoreEntry>> list() override {
    // --use-server-modtime: S3 would otherwise read each object's metadata for its mtime.
    auto run = small(
        {"lsjson", "--files-only", "--no-mimetype", "--use-server-modtime", "--", location_.spec});
    if (!run.ok()) return failure(run, "cannot list " + location_.display());
    auto entries = parse_lsjson(run.out);
    if (!entries) return entries.error();
    return entries;
  }

  OffsiteResult<fs::path> fetch(const std::string& name, const fs::path& local_path) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    const auto partial = fs::path(local_path.string() + std::string(kPartialSuffix));
    std::error_code ec;
    fs::remove(partial, ec);
    auto run = transfer({"copyto", "--ignore-times", "--", path_of(name), local_arg(partial)});
    if (!run.ok()) {
      fs::remove(partial, ec);
      return failure(run, "cannot download " + display_of(name) + " to " + partial.string());
    }
    fs::rename(partial, local_path, ec);
    if (ec) {
      return OffsiteError{
          OffsiteErrc::failed,
          "cannot rename " + partial.string() + " to " + local_path.string() + ": " + ec.message(),
          ec.message()};
    }
    return local_path;
  }

  OffsiteResult<void> put(const fs::path& local_file, const std::string& name) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    std::error_code ec;
    if (!fs::is_regular_file(local_file, ec)) {
      return OffsiteError{OffsiteErrc::not_found,
                          "cannot upload " + local_file.string() + ": not a readable file",
                          "no such file"};
    }
    const std::string partial = path_of(name + std::string(kPartialSuffix));
    auto run = transfer({"copyto", "--ignore-times", "--", local_arg(local_file), partial});
    if (!run.ok()) {
      discard(partial);
      return failure(run, "cannot upload " + local_file.string() + " to " + display_of(name));
    }
    return commit(name);
  }

  OffsiteResult<void> remove(const std::string& name) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    auto run = small({"deletefile", "--", path_of(name)});
    if (!run.ok()) return failure(run, "cannot remove " + display_of(name));
    return {};
  }

  OffsiteResult<std::string> read_small(const std::string& name) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    auto run = small({"cat", "--count", std::to_string(kMaxSmallBytes + 1), "--", path_of(name)});
    if (!run.ok()) return failure(run, "cannot read " + display_of(name));
    if (run.out.size() > kMaxSmallBytes) {
      return OffsiteError{
          OffsiteErrc::failed,
          display_of(name) + " is bigger than a manifest or pointer can be; check the name",
          "too big"};
    }
    return std::move(run.out);
  }

  OffsiteResult<void> write_small(const std::string& name, std::string_view text) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    const std::string partial = path_of(name + std::string(kPartialSuffix));
    auto run = small({"rcat", "--", partial}, std::string(text));
    if (!run.ok()) {
      discard(partial);
      return failure(run, "cannot write " + display_of(name));
    }
    return commit(name);
  }

 private:
  [[nodiscard]] std::string path_of(const std::string& name) const {
    return remote_path(location_.spec, name);
  }
  [[nodiscard]] std::string display_of(const std::string& name) const {
    return remote_path(location_.display(), name);
  }

  // rclone VERB <common flags> <rest>; `transfer` picks the looser I/O timeout and retries.
  [[nodiscard]] std::vector<std::string> command(std::vector<std::string> rest,
                                                 bool transfer) const {
    std::vector<std::string> argv{
        options_.binary, rest.front(), "--quiet", "--ask-password=false", "--contimeout",
        seconds_flag(options_.connect_timeout), "--timeout",
        seconds_flag(transfer ? options_.transfer_io_timeout : options_.io_timeout),
        // Whole-command retries re-run a transfer from the start: the caller decides instead.
        "--retries", "1", "--low-level-retries",
        std::to_string(transfer ? options_.transfer_low_level_retries
                                : options_.low_level_retries)};
    if (!options_.config_file.empty()) {
      argv.insert(argv.end(), {"--config", options_.config_file.string()});
    }
    argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
    argv.insert(argv.end(), std::make_move_iterator(rest.begin() + 1),
                std::make_move_iterator(rest.end()));
    return argv;
  }

  [[nodiscard]] base::CommandResult small(
      std::vector<std::string> rest, std::optional<std::string> stdin_data = std::nullopt) const {
    return base::run_command(command(std::move(rest), false),
                             {options_.small_op_deadline, std::move(stdin_data), {}});
  }
  [[nodiscard]] base::CommandResult transfer(std::vector<std::string> rest) const {
    return base::run_command(command(std::move(rest), true), {});
  }

  // `name.partial` -> `name`. --ignore-times: without it rclone compares a WebDAV file by size
  // alone (no modification times there), finds an equal-sized `name` "identical", deletes the
  // upload and keeps the old file.
  OffsiteResult<void> commit(const std::string& name) {
    const std::string partial = path_of(name + std::string(kPartialSuffix));
    auto run = small({"moveto", "--ignore-times", "--", partial, path_of(name)});
    if (!run.ok()) {
      discard(partial);
      return failure(run, "cannot rename the upload into place as " + display_of(name));
    }
    return {};
  }

  // Best effort: an upload that failed should not leave its partial file behind.
  void discard(const std::string& partial) const { (void)small({"deletefile", "--", partial}); }

  [[nodiscard]] OffsiteError failure(const base::CommandResult& run,
                                     const std::string& what) const {
    if (!run.started) {
      return {OffsiteErrc::failed,
              what + ": cannot run " + options_.binary + " (" + run.err +
                  "); install the Debian package rclone, or give the path of the rclone binary",
              run.err};
    }
    if (run.timed_out) {
      const auto detail =
          "rclone did not finish within " + seconds_flag(options_.small_op_deadline);
      return {OffsiteErrc::unreachable, what + ": " + detail + "; check that the endpoint answers",
              detail};
    }
    auto detail = rclone_error_summary(run.err);
    if (detail.empty()) detail = "rclone exited with status " + std::to_string(run.exit_status);
    // rclone echoes the remote spec; keep its secrets out of reports.
    const auto shown = location_.display();
    for (std::size_t at = 0; (at = detail.find(location_.spec, at)) != std::string::npos;
         at += shown.size()) {
      detail.replace(at, location_.spec.size(), shown);
    }
    const auto code = classify_rclone_failure(run.exit_status, run.err);
    std::string todo;
    switch (code) {
      case OffsiteErrc::unreachable:
        todo = "check that the endpoint is up and reachable from this host";
        break;
      case OffsiteErrc::not_found:
        todo = "check the remote path and the file name";
        break;
      default:
        todo =
            "check the remote's settings and credentials (rclone config, or the connection "
            "string)";
        break;
    }
    return {code, what + ": " + detail + "; " + todo, detail};
  }

  Location location_;
  RcloneOptions options_;
};

}  // namespace

std::unique_ptr<Store> make_rclone_store(const Location& location, const RcloneOptions& options) {
  return std::make_unique<RcloneStore>(location, options);
}

}  // namespace weighlink::recovery
