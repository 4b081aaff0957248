// CupsServer (cups_server.hpp): cupsd in the foreground on its own files.
#include "weighlink/testing/cups_server.hpp"

#include <unistd.h>

#include <stdexcept>

namespace weighlink::testing {
namespace fs = std::filesystem;

std::string CupsServer::unavailable() {
  if (::geteuid() != 0) return "cupsd needs root (it runs its backends as lp)";
  if (!fs::exists("/usr/sbin/cupsd")) return "cupsd is not installed (scripts/deps.sh)";
  if (!fs::exists("/usr/lib/cups/filter")) return "/usr/lib/cups is missing (cups-daemon)";
  return {};
}

CupsServer::CupsServer(const std::string& queue) : queue_(queue) {
  const auto d = dir_.path();
  // cupsd runs the backend as lp: the directories it writes must be open to it.
  fs::permissions(d, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                         fs::perms::others_read | fs::perms::others_exec);
  for (const char* sub : {"root", "spool", "tmp", "cache", "state", "log", "out"}) {
    fs::create_directories(d / sub);
    fs::permissions(d / sub, fs::perms::all);
  }
  // ServerBin: the system's filters and helpers, and our backend.
  fs::create_directories(d / "sb" / "backend");
  for (const char* sub : {"filter", "daemon", "cgi-bin", "notifier", "monitor", "driver"}) {
    if (fs::exists(fs::path("/usr/lib/cups") / sub)) {
      fs::create_directory_symlink(fs::path("/usr/lib/cups") / sub, d / "sb" / sub);
    }
  }
  const auto backend = d / "sb" / "backend" / "pdffile";
  write_text(backend,
             "#!/bin/sh\n"
             "# A CUPS backend for tests: the job's document into the file the URI names.\n"
             "if [ $# -eq 0 ]; then echo 'file pdffile \"Unknown\" \"Job to a file\"'; exit 0; fi\n"
             "out=\"${DEVICE_URI#pdffile:}\"\n"
             "if [ -n \"$6\" ]; then cat \"$6\" > \"$out.tmp\"; else cat > \"$out.tmp\"; fi\n"
             "chmod 0644 \"$out.tmp\" && mv \"$out.tmp\" \"$out\"\n");
  const auto rx = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                  fs::perms::others_read | fs::perms::others_exec;
  fs::permissions(backend, rx);
  fs::permissions(d / "sb", rx);
  fs::permissions(d / "sb" / "backend", rx);

  address_ = free_loopback_address();
  write_text(d / "root" / "cupsd.conf",
             "Listen " + address_ +
                 "\nLogLevel info\nWebInterface No\nBrowsing No\nDefaultAuthType None\n"
                 "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
                 "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n"
                 "</Policy>\n");
  const auto p = d.string();
  write_text(d / "root" / "cups-files.conf",
             "ServerRoot " + p + "/root\nServerBin " + p + "/sb\nRequestRoot " + p +
                 "/spool\nTempDir " + p + "/tmp\nCacheDir " + p + "/cache\nStateDir " + p +
                 "/state\nErrorLog " + p + "/log/error_log\nAccessLog " + p +
                 "/log/access_log\nPageLog " + p + "/log/page_log\nPrintcap " + p +
                 "/state/printcap\nUser lp\nGroup lp\nSystemGroup root\n");
  write_text(d / "root" / "printers.conf",
             "<Printer " + queue_ +
                 ">\nInfo weighlink test queue\nDeviceURI pdffile:" + output().string() +
                 "\nState Idle\nAccepting Yes\nShared No\n"
                 "</Printer>\n");
  cupsd_ = std::make_unique<Process>(
      std::vector<std::string>{"/usr/sbin/cupsd", "-f", "-c", p + "/root/cupsd.conf", "-s",
                               p + "/root/cups-files.conf"},
      d / "log" / "stdout");
  const bool up = eventually(
      [&] {
        return run({"lpstat", "-h", address_, "-p", queue_}, std::chrono::seconds(10)).exit_code ==
               0;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200));
  if (!up) throw std::runtime_error("cupsd did not answer on " + address_ + ": " + log());
}

CupsServer::~CupsServer() {
  if (cupsd_) (void)cupsd_->terminate();
}

std::string CupsServer::log() const { return read_file(dir_ / "log" / "error_log"); }

}  // namespace weighlink::testing
