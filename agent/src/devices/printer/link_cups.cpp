// The CUPS link (printer_link.hpp): the ticket's PDF to a named queue through libcups, the job
// followed until CUPS says completed, stopped, cancelled or aborted, and the printer's state and
// reasons (media-empty, offline-report, ...) as its status. Linux only: the configuration refuses
// type cups on Windows, and there this file builds to a link that says so. libcups is opened
// when a CUPS printer is first probed (devices/lazy_library.hpp), not at the agent's start: it
// brings dozens of libraries a station without such a printer never needs.
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "devices/printer/printer_link.hpp"

#ifndef _WIN32
#include <cups/cups.h>

#include "devices/lazy_library.hpp"
#include "weighlink/base/host_port.hpp"
#endif

namespace weighlink::agent::printer {
namespace {

#ifndef _WIN32
// Every libcups function this file calls.
// clang-format off
#define WEIGHLINK_CUPS_FUNCTIONS(X) \
  X(httpConnect2) X(httpClose) X(cupsServer) X(ippPort) X(cupsUser) X(cupsLastError) \
  X(cupsLastErrorString) X(cupsGetNamedDest) X(cupsFreeDests) X(cupsGetOption) X(ippNewRequest) \
  X(ippAddString) X(cupsDoRequest) X(ippFindAttribute) X(ippGetInteger) X(ippDelete) \
  X(cupsStartDocument) X(cupsWriteRequestData) X(cupsFinishDocument) X(cupsGetJobs2) \
  X(cupsFreeJobs)
// clang-format on

// Pointers to them, with their own types, filled once by cups().
struct Cups {
#define WEIGHLINK_CUPS_POINTER(f) decltype(&::f) f = nullptr;
  WEIGHLINK_CUPS_FUNCTIONS(WEIGHLINK_CUPS_POINTER)
#undef WEIGHLINK_CUPS_POINTER
};

// libcups's functions, from libcups.so.2 opened at the first call; the error says what to
// install.
const base::Expected<Cups>& cups() {
  static const base::Expected<Cups> loaded = []() -> base::Expected<Cups> {
    auto library = devices::LazyLibraries::open({"libcups.so.2"}, "CUPS printers",
                                                "libcups2 (Debian: apt-get install libcups2)");
    if (!library) return library.error();
    Cups api;
#define WEIGHLINK_CUPS_RESOLVE(f) library->resolve(api.f, #f);
    WEIGHLINK_CUPS_FUNCTIONS(WEIGHLINK_CUPS_RESOLVE)
#undef WEIGHLINK_CUPS_RESOLVE
    if (auto missing = library->missing()) return *missing;
    return api;
  }();
  return loaded;
}

// The functions, once cups() succeeded (CupsLink::connect() checks before any other call).
const Cups& cu() { return *cups(); }

struct HttpClose {
  void operator()(http_t* h) const { cu().httpClose(h); }
};
using HttpPtr = std::unique_ptr<http_t, HttpClose>;

struct DestFree {
  void operator()(cups_dest_t* d) const { cu().cupsFreeDests(1, d); }
};

class CupsLink final : public PrinterLink {
 public:
  explicit CupsLink(PrinterConfig config) : config_(std::move(config)) {}

  PrinterStatus probe() override {
    auto http = connect();
    if (!http) return {PrinterState::offline, last_error_, false};
    std::unique_ptr<cups_dest_t, DestFree> dest(
        cu().cupsGetNamedDest(http.get(), config_.queue.c_str(), nullptr));
    if (!dest) {
      return {PrinterState::offline,
              "CUPS has no queue '" + config_.queue + "' (" + cu().cupsLastErrorString() + ")",
              false};
    }
    const auto option = [&](const char* name) {
      const char* v = cu().cupsGetOption(name, dest->num_options, dest->options);
      return std::string(v ? v : "");
    };
    const auto reasons = option("printer-state-reasons");
    const auto has = [&](std::string_view r) { return reasons.find(r) != std::string::npos; };
    if (has("media-empty") || has("media-needed")) {
      return {PrinterState::error, "paper out (" + reasons + ")", false};
    }
    if (has("door-open") || has("cover-open")) {
      return {PrinterState::error, "cover open (" + reasons + ")", false};
    }
    if (has("offline-report") || has("offline")) {
      return {PrinterState::offline, "offline (" + reasons + ")", false};
    }
    if (option("printer-state") == "5") {
      return {PrinterState::error,
              "queue stopped (" + reasons + "); start it: cupsenable " + config_.queue, false};
    }
    if (option("printer-is-accepting-jobs") == "false") {
      return {PrinterState::error, "queue not accepting jobs; run: cupsaccept " + config_.queue,
              false};
    }
    return {PrinterState::ok, has("media-low") ? "paper near end" : "", has("media-low")};
  }

  SendResult send(const std::string& document, const std::string& title) override {
    auto http = connect();
    if (!http) return {false, last_error_};
    const char* queue = config_.queue.c_str();
    const int job = create_job(http.get(), title);
    if (job == 0)
      return {false, std::string("CUPS refused the job: ") + cu().cupsLastErrorString()};
    if (cu().cupsStartDocument(http.get(), queue, job, title.c_str(), CUPS_FORMAT_PDF, 1) !=
            HTTP_STATUS_CONTINUE ||
        cu().cupsWriteRequestData(http.get(), document.data(), document.size()) !=
            HTTP_STATUS_CONTINUE ||
        cu().cupsFinishDocument(http.get(), queue) != IPP_STATUS_OK) {
      return {false, std::string("sending the PDF to CUPS failed: ") + cu().cupsLastErrorString()};
    }
    // Followed until it ends: only a completed job counts as printed.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (std::chrono::steady_clock::now() < deadline) {
      cups_job_t* jobs = nullptr;
      const int n = cu().cupsGetJobs2(http.get(), &jobs, queue, 0, CUPS_WHICHJOBS_ALL);
      ipp_jstate_t state = IPP_JSTATE_PENDING;
      for (int i = 0; i < n; ++i) {
        if (jobs[i].id == job) state = jobs[i].state;
      }
      cu().cupsFreeJobs(n, jobs);
      switch (state) {
        case IPP_JSTATE_COMPLETED:
          return {true, {}};
        case IPP_JSTATE_STOPPED:
          return {false, "CUPS job " + std::to_string(job) + " stopped (see lpstat -l)"};
        case IPP_JSTATE_CANCELED:
          return {false, "CUPS job " + std::to_string(job) + " was cancelled in CUPS"};
        case IPP_JSTATE_ABORTED:
          return {false, "CUPS job " + std::to_string(job) + " aborted"};
        default:
          break;
      }
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return interrupted_; })) {
        return {false, "the agent stopped while CUPS job " + std::to_string(job) + " was queued"};
      }
    }
    return {false, "CUPS job " + std::to_string(job) + " did not complete within 2 minutes"};
  }

  void interrupt() override {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
    wake_.notify_all();
  }

 private:
  // Create-Job on the queue's resource of this connection (cupsCreateJob looks the queue up
  // again through the default server, which may be another one than `server`).
  int create_job(http_t* http, const std::string& title) {
    const auto resource = "/printers/" + config_.queue;
    const auto uri = "ipp://localhost" + resource;
    ipp_t* request = cu().ippNewRequest(IPP_OP_CREATE_JOB);
    cu().ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", nullptr, uri.c_str());
    cu().ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", nullptr,
                      cu().cupsUser());
    cu().ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", nullptr, title.c_str());
    ipp_t* response = cu().cupsDoRequest(http, request, resource.c_str());  // frees `request`
    int id = 0;
    if (response) {
      if (ipp_attribute_t* a = cu().ippFindAttribute(response, "job-id", IPP_TAG_INTEGER)) {
        id = cu().ippGetInteger(a, 0);
      }
      cu().ippDelete(response);
    }
    return cu().cupsLastError() <= IPP_STATUS_OK_CONFLICTING ? id : 0;
  }

  HttpPtr connect() {
    if (const auto& loaded = cups(); !loaded) {
      last_error_ = loaded.error().message;
      return nullptr;
    }
    std::string host = cu().cupsServer();
    int port = cu().ippPort();
    if (!config_.server.empty()) {
      auto hp = base::parse_host_port(config_.server);
      if (hp) {
        host = hp->host;
        port = hp->port;
      }
    }
    HttpPtr http(cu().httpConnect2(host.c_str(), port, nullptr, AF_UNSPEC,
                                   HTTP_ENCRYPTION_IF_REQUESTED, 1, 5000, nullptr));
    if (!http) {
      last_error_ = "cannot reach the CUPS server " + host +
                    (host.starts_with("/") ? "" : ":" + std::to_string(port));
    }
    return http;
  }

  PrinterConfig config_;
  std::string last_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool interrupted_ = false;
};
#endif

}  // namespace

std::unique_ptr<PrinterLink> make_cups_link(const PrinterConfig& config) {
#ifndef _WIN32
  return std::make_unique<CupsLink>(config);
#else
  (void)config;
  return nullptr;
#endif
}

}  // namespace weighlink::agent::printer
