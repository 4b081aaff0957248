// A local backup folder behind the Store interface: std::filesystem and POSIX fsync. Writes go to
// `name.partial`, are fsynced, renamed into place, and the folder fsynced, so that a reader (or a
// crash) sees the old file or the new one, never half of one.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "offsite_stores.hpp"
#include "weighlink/base/file_write.hpp"

namespace weighlink::recovery {
namespace {

namespace fs = std::filesystem;

OffsiteError error_of(OffsiteErrc code, const std::string& what, const std::error_code& ec,
                      const std::string& todo) {
  return {code, what + ": " + ec.message() + "; " + todo, ec.message()};
}

OffsiteErrc code_of(const std::error_code& ec) {
  return ec == std::errc::no_such_file_or_directory ? OffsiteErrc::not_found : OffsiteErrc::failed;
}

class LocalStore final : public Store {
 public:
  explicit LocalStore(Location location) : location_(std::move(location)), dir_(location_.spec) {}

  [[nodiscard]] const Location& location() const override { return location_; }

  OffsiteResult<std::vector<StoreEntry>> list() override {
    std::error_code ec;
    fs::directory_iterator it(dir_, ec);
    if (ec) {
      return error_of(code_of(ec), "cannot list the backup folder " + dir_.string(), ec,
                      "check the path and that this user may read it");
    }
    std::vector<StoreEntry> entries;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      struct stat st {};
      if (::stat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      const auto mod_time = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::seconds(st.st_mtim.tv_sec) +
              std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
      entries.push_back(
          {it->path().filename().string(), static_cast<std::uint64_t>(st.st_size), mod_time});
    }
    if (ec) {
      return error_of(OffsiteErrc::failed, "cannot list the backup folder " + dir_.string(), ec,
                      "check the folder and the disk");
    }
    return entries;
  }

  OffsiteResult<fs::path> fetch(const std::string& name, const fs::path&) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    const auto file = dir_ / name;
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (ec) {
      return error_of(code_of(ec), "cannot read " + file.string(), ec,
                      "check that the backup exists");
    }
    if (!fs::is_regular_file(status)) {
      return OffsiteError{OffsiteErrc::failed, file.string() + " is not a regular file",
                          "not a regular file"};
    }
    return file;  // in place: no copy of a dump that is already on this host
  }

  OffsiteResult<void> put(const fs::path& local_file, const std::string& name) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) {
      return error_of(OffsiteErrc::failed, "cannot create the backup folder " + dir_.string(), ec,
                      "check the path and its permissions");
    }
    const auto partial = dir_ / (name + std::string(kPartialSuffix));
    fs::copy_file(local_file, partial, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove(partial, ignored);
      return error_of(code_of(ec), "cannot copy " + local_file.string() + " to " + partial.string(),
                      ec, "check the source file and the space left in " + dir_.string());
    }
    return commit(partial, name);
  }

  OffsiteResult<void> remove(const std::string& name) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    std::error_code ec;
    const auto file = dir_ / name;
    if (!fs::remove(file, ec)) {
      if (!ec) ec = std::make_error_code(std::errc::no_such_file_or_directory);
      return error_of(code_of(ec), "cannot remove " + file.string(), ec,
                      "check the name and the folder's permissions");
    }
    if (auto sync = base::fsync_path(dir_, true)) {
      return error_of(OffsiteErrc::failed, "cannot sync " + dir_.string(), sync, "check the disk");
    }
    return {};
  }

  OffsiteResult<std::string> read_small(const std::string& name) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    const auto file = dir_ / name;
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return error_of(code_of(ec), "cannot read " + file.string(), ec, "check the name");
    if (size > kMaxSmallBytes) {
      return OffsiteError{OffsiteErrc::failed,
                          file.string() + " has " + std::to_string(size) +
                              " bytes, more than a manifest or pointer can have; check the name",
                          "too big"};
    }
    std::ifstream in(file, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) {
      return OffsiteError{OffsiteErrc::failed, "cannot read " + file.string(), "read error"};
    }
    return text;
  }

  OffsiteResult<void> write_small(const std::string& name, std::string_view text) override {
    if (auto ok = check_file_name(name); !ok) return ok.error();
    std::error_code ec;
    fs::create_directories(dir_, ec);
    // 0666: the umask applies
    if (auto written = base::write_file_atomically(dir_ / name, text, 0666); !written) {
      return OffsiteError{OffsiteErrc::failed, written.error().message, "write error"};
    }
    return {};
  }

 private:
  // fsync the complete temporary file, rename it to `name`, fsync the folder.
  OffsiteResult<void> commit(const fs::path& partial, const std::string& name) {
    const auto file = dir_ / name;
    std::error_code ec = base::fsync_path(partial);
    if (!ec) fs::rename(partial, file, ec);
    if (!ec) ec = base::fsync_path(dir_, true);
    if (ec) {
      std::error_code ignored;
      fs::remove(partial, ignored);
      return error_of(OffsiteErrc::failed, "cannot put " + file.string() + " in place", ec,
                      "check the space left on its disk");
    }
    return {};
  }

  Location location_;
  fs::path dir_;
};

}  // namespace

std::unique_ptr<Store> make_local_store(const Location& location) {
  return std::make_unique<LocalStore>(location);
}

}  // namespace weighlink::recovery
