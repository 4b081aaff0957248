#pragma once
// EscposPrinter: a thermal receipt printer in tests, on a pseudo-terminal (a serial printer) or a
// TCP listener on loopback (port 9100 style). It parses the byte stream: a job is ESC @ ... GS V
// (cut); it answers the real-time status queries DLE EOT 1/2/4 as the mode says; switched to
// paper out, cover open or silent (no answers), or unplugged (TCP: the port refuses). A job that
// arrives while the printer cannot print is not printed (counted apart), as on a real one.
// Threading: its own thread serves the device; every public member is thread-safe.

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weighlink::testing {

class PtyScale;

class EscposPrinter {
 public:
  enum class Mode { ok, paper_out, cover_open, silent };

  // A serial printer: the agent opens path() (the `link` symlink to a pty).
  [[nodiscard]] static std::unique_ptr<EscposPrinter> on_pty(const std::filesystem::path& link);
  // A network printer on 127.0.0.1:PORT (a free port when 0); switched off at first unless
  // `plugged` (then `port` must be given: free_loopback_address()).
  [[nodiscard]] static std::unique_ptr<EscposPrinter> on_tcp(unsigned short port = 0,
                                                             bool plugged = true);
  ~EscposPrinter();
  EscposPrinter(const EscposPrinter&) = delete;
  EscposPrinter& operator=(const EscposPrinter&) = delete;

  // The pty's path, or "127.0.0.1:PORT".
  [[nodiscard]] std::string address() const { return address_; }
  void set_mode(Mode mode);
  // TCP: closes the listener and every connection (the printer is switched off) / listens again
  // on the same port.
  void unplug();
  void plug();

  // Jobs printed whole (ESC @ ... GS V), each as its bytes, in order.
  [[nodiscard]] std::vector<std::string> jobs() const;
  // Jobs that arrived while the printer could not print (paper out, cover open, silent).
  [[nodiscard]] std::size_t lost_jobs() const;
  [[nodiscard]] std::size_t status_queries() const;

 private:
  EscposPrinter() = default;
  void serve();
  void feed(const std::string& bytes, std::string& answers);
  void listen_tcp();

  std::string address_;
  std::unique_ptr<PtyScale> pty_;
  unsigned short port_ = 0;
  int listen_fd_ = -1;
  int client_fd_ = -1;
  std::string pending_;  // bytes of the job being received
  mutable std::mutex mutex_;
  Mode mode_ = Mode::ok;
  bool plugged_ = true;
  bool listening_ = false;  // serve()'s
  std::vector<std::string> jobs_;
  std::size_t lost_ = 0;
  std::size_t queries_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace weighlink::testing
