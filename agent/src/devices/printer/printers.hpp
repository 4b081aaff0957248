#pragma once
// The station's ticket printers (docs/devices.md, "Tickets on the printer at the scale"): a
// DeviceComponent holding one Printer per configured printer. Each printer has a durable job
// queue (print_queue.hpp, kept in the outbox's state under printer/job/<id>), a thread of its own
// for the link (printer_link.hpp), and routes: GET /v1/printers, POST /v1/printers/{id}/print,
// POST /v1/printers/{id}/jobs/{job}/cancel. A job is recorded as a weighlink.ticket_printed
// print when it is created (ticket_print.hpp), so the paper says ORIGINAL or DUPLICATE.
// Threading: io thread, except each printer's link thread, which only talks to its link and posts
// results back.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "devices/printer/printer_link.hpp"
#include "weighlink/agent/devices.hpp"
#include "weighlink/agent/printer/print_queue.hpp"

namespace weighlink::agent {

// Adds the printers component to `hub` when `printers:` lists any.
void add_printers(DeviceHub& hub, CaptureContext& captures);

namespace printer {

// The outbox state key of a printer's queue.
[[nodiscard]] std::string queue_state_key(const std::string& printer_id);

// One configured printer. Members below `worker` are shared with the link thread under `mutex`;
// the rest is the io thread's.
struct Printer {
  PrinterConfig config;
  std::unique_ptr<PrinterLink> link;
  PrintQueue queue;
  PrinterStatus status{PrinterState::offline, "not asked yet", false};
  std::int64_t since_ms = 0;
  bool sending = false;  // a job is with the link thread
  int creating = 0;      // prints being recorded (their jobs written with them)
  bool dirty = false;    // the queue changed while a print was being recorded
  bool stopping = false;
  std::uint64_t printed = 0, failed = 0, cancelled = 0;

  struct Assignment {
    std::string job_id, document, title;
  };
  std::thread worker;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false, poke = true;
  std::optional<Assignment> assignment;
};

// Saves `p`'s queue in the outbox state (after the print being recorded, if one is).
void persist_queue(const DeviceEnv& env, Printer& p);

class PrinterComponent final : public DeviceComponent {
 public:
  explicit PrinterComponent(DeviceEnv env);
  ~PrinterComponent() override;

  void health(std::vector<DeviceHealth>& out) const override;
  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override;
  void status(boost::json::object& status) const override;
  void metrics(std::string& out) const override;
  void on_recorded(const RecordedWeighing& weighing) override;
  void start() override;
  void stop() override;

  // What creating a job came to: the job (nullptr when none was created), or the print record
  // the key already names, or the outbox's refusal.
  struct Created {
    sync::EnqueueResult result;
    std::string job_id;
  };
  // Records the print of weighing `row` on `p` and queues its job; `done` on the io thread.
  void create_job(const std::shared_ptr<Printer>& p, const sync::OutboxRow& row,
                  const std::string& key, std::string request_hash, const std::string& operator_id,
                  const std::string& origin, std::function<void(Created)> done);

 private:
  void routes(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond);
  void print_request(const std::shared_ptr<Printer>& p, const HttpRequest& request,
                     const std::string& correlation_id, Respond respond);
  void cancel_request(const std::shared_ptr<Printer>& p, const std::string& job_id,
                      const std::string& correlation_id, const Respond& respond);
  [[nodiscard]] boost::json::object printer_json(const Printer& p) const;
  [[nodiscard]] std::shared_ptr<Printer> find(const std::string& id) const;

  DeviceEnv env_;
  std::vector<std::shared_ptr<Printer>> printers_;
};

}  // namespace printer
}  // namespace weighlink::agent
