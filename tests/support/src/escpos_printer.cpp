// EscposPrinter (escpos_printer.hpp): the byte stream parsed as a printer does, status answered.
#include "weighlink/testing/escpos_printer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <utility>

#include "weighlink/testing/pty_scale.hpp"

namespace weighlink::testing {
namespace {

// DLE EOT n answers: bits 1 and 4 always set; n=1 bit 3 offline; n=2 bit 2 cover open, bit 5
// stopped by paper end; n=4 bits 5-6 paper end.
char answer(EscposPrinter::Mode mode, char n) {
  using Mode = EscposPrinter::Mode;
  switch (n) {
    case 1:
      return mode == Mode::ok ? '\x12' : '\x1a';
    case 2:
      return mode == Mode::paper_out ? '\x32' : mode == Mode::cover_open ? '\x16' : '\x12';
    default:
      return mode == Mode::paper_out ? '\x72' : '\x12';
  }
}

}  // namespace

std::unique_ptr<EscposPrinter> EscposPrinter::on_pty(const std::filesystem::path& link) {
  std::unique_ptr<EscposPrinter> p(new EscposPrinter());
  p->pty_ = std::make_unique<PtyScale>(link);
  p->address_ = p->pty_->path();
  p->thread_ = std::thread([raw = p.get()] { raw->serve(); });
  return p;
}

std::unique_ptr<EscposPrinter> EscposPrinter::on_tcp(unsigned short port, bool plugged) {
  std::unique_ptr<EscposPrinter> p(new EscposPrinter());
  p->port_ = port;
  p->plugged_ = plugged;
  if (plugged) p->listen_tcp();
  p->address_ = "127.0.0.1:" + std::to_string(p->port_);
  p->thread_ = std::thread([raw = p.get()] { raw->serve(); });
  return p;
}

EscposPrinter::~EscposPrinter() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (client_fd_ >= 0) ::close(client_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void EscposPrinter::listen_tcp() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port_);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0) {
    ::close(fd);
    throw std::runtime_error("EscposPrinter: cannot listen on 127.0.0.1:" + std::to_string(port_));
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  listen_fd_ = fd;
  listening_ = true;
}

void EscposPrinter::set_mode(Mode mode) {
  std::lock_guard lock(mutex_);
  mode_ = mode;
}

void EscposPrinter::unplug() {
  std::lock_guard lock(mutex_);
  plugged_ = false;
}

void EscposPrinter::plug() {
  std::lock_guard lock(mutex_);
  plugged_ = true;
}

std::vector<std::string> EscposPrinter::jobs() const {
  std::lock_guard lock(mutex_);
  return jobs_;
}

std::size_t EscposPrinter::lost_jobs() const {
  std::lock_guard lock(mutex_);
  return lost_;
}

std::size_t EscposPrinter::status_queries() const {
  std::lock_guard lock(mutex_);
  return queries_;
}

void EscposPrinter::feed(const std::string& bytes, std::string& answers) {
  std::lock_guard lock(mutex_);
  for (const char byte : bytes) {
    pending_ += byte;
    // DLE EOT n is real-time: answered wherever it comes, and not part of a job.
    if (pending_.size() >= 3 && pending_.compare(pending_.size() - 3, 2, "\x10\x04") == 0) {
      const char n = pending_.back();
      if (n == 1 || n == 2 || n == 4) {
        pending_.resize(pending_.size() - 3);
        ++queries_;
        if (mode_ != Mode::silent) answers += answer(mode_, n);
        continue;
      }
    }
    // GS V 66 n (or GS V 0/1/48/49): the cut ends the job.
    const auto at = pending_.rfind("\x1dV");
    if (at == std::string::npos) continue;
    const auto m = at + 2 < pending_.size() ? static_cast<unsigned char>(pending_[at + 2]) : 0xFF;
    const bool cut =
        (m == 65 || m == 66) ? pending_.size() == at + 4 : (m == 0 || m == 1 || m == 48 || m == 49);
    if (!cut) continue;
    if (pending_.rfind("\x1b@", 0) == 0 && mode_ == Mode::ok) {
      jobs_.push_back(std::move(pending_));
    } else {
      ++lost_;
    }
    pending_.clear();
  }
}

void EscposPrinter::serve() {
  using namespace std::chrono_literals;
  while (!stop_) {
    std::string answers;
    if (pty_) {
      const auto bytes = pty_->read(50ms);
      if (!bytes.empty()) feed(bytes, answers);
      if (!answers.empty()) pty_->write(answers);
      continue;
    }
    bool plugged = false;
    {
      std::lock_guard lock(mutex_);
      plugged = plugged_;
    }
    if (!plugged && listening_) {  // switched off: the port refuses, connections drop
      if (client_fd_ >= 0) ::close(std::exchange(client_fd_, -1));
      ::close(std::exchange(listen_fd_, -1));
      listening_ = false;
    } else if (plugged && !listening_) {
      listen_tcp();
    }
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {client_fd_, POLLIN, 0}};
    if (::poll(fds, 2, 50) <= 0) continue;
    if (listen_fd_ >= 0 && (fds[0].revents & POLLIN)) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        if (client_fd_ >= 0) ::close(client_fd_);  // a printer serves one connection
        client_fd_ = c;
        pending_.clear();
      }
      continue;
    }
    if (client_fd_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[4096];
      const auto n = ::read(client_fd_, buf, sizeof buf);
      if (n <= 0) {
        ::close(std::exchange(client_fd_, -1));
        continue;
      }
      feed(std::string(buf, static_cast<std::size_t>(n)), answers);
      if (!answers.empty()) (void)!::write(client_fd_, answers.data(), answers.size());
    }
  }
}

}  // namespace weighlink::testing
