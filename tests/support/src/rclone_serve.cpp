#include "weighlink/testing/rclone_serve.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace weighlink::testing {
namespace {

bool answers(const std::string& address) {
  const auto [host, port] = split_host_port(address);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

RcloneServe::RcloneServe(Kind kind, const std::filesystem::path& root,
                         const std::filesystem::path& log_file)
    : kind_(kind), address_(free_loopback_address()) {
  if (::access(kRclone, X_OK) != 0) {
    throw std::runtime_error(std::string(kRclone) +
                             " is missing: run `make deps` (Debian package rclone)");
  }
  // --dir-cache-time 0s: files the test writes straight into `root` show at once.
  process_ = std::make_unique<Process>(
      std::vector<std::string>{kRclone, "serve", kind == Kind::webdav ? "webdav" : "http", "--addr",
                               address_, "--dir-cache-time", "0s", root.string()},
      log_file);
  if (!eventually([&] { return !process_->running() || answers(address_); },
                  std::chrono::seconds(20), std::chrono::milliseconds(20)) ||
      !process_->running()) {
    throw std::runtime_error("rclone serve did not answer on " + address_ + "; its log:\n" +
                             process_->log());
  }
}

std::string RcloneServe::remote() const {
  return std::string(kind_ == Kind::webdav ? ":webdav" : ":http") + ",url='http://" + address_ +
         "':";
}

}  // namespace weighlink::testing
