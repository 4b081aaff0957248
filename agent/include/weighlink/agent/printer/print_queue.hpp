#pragma once
// A printer's jobs as a small state machine (docs/devices.md, "Tickets on the printer at the
// scale"): recording -> queued -> printing -> done, back to queued when a send fails, cancelled
// from queued. Pure: times are arguments, no I/O; the component persists it as JSON.
// Threading: one owner (the io thread).

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weighlink::agent::printer {

enum class JobState { recording, queued, printing, done, cancelled };
[[nodiscard]] std::string_view to_string(JobState state);

struct PrintJob {
  std::string id;  // "<weighing seq>-<print number>": unique, as print numbers are
  std::uint64_t seq = 0;
  std::uint64_t print_number = 0;
  std::string key;       // the weighlink.ticket_printed record's idempotency key
  std::string language;  // the ticket's
  std::string operator_id;
  std::string origin;  // auto | request
  JobState state = JobState::recording;
  int attempts = 0;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::string detail;  // why the last attempt did not print
};

[[nodiscard]] boost::json::object to_json(const PrintJob& job);

class PrintQueue {
 public:
  // Finished jobs (done, cancelled) kept for the page, newest last.
  static constexpr std::size_t kKeepFinished = 20;

  void add(PrintJob job);
  // The print was recorded (queued) or refused (the job is dropped).
  void recorded(const std::string& id, bool accepted, std::int64_t now_ms);
  // The oldest queued job when nothing is printing; nullptr otherwise.
  [[nodiscard]] const PrintJob* next() const;
  // queued -> printing; false when the job is not queued.
  bool start(const std::string& id, std::int64_t now_ms);
  // printing -> done, or back to queued with `detail` (sent nothing, or the status after the
  // send was not ok: the paper may be half printed, the job prints again whole).
  void finished(const std::string& id, bool printed, const std::string& detail,
                std::int64_t now_ms);
  enum class CancelResult { cancelled, not_found, printing, finished };
  CancelResult cancel(const std::string& id, std::int64_t now_ms);
  // After a restart: a job found printing may or may not have reached the paper (the one
  // ambiguous window); it is queued again.
  void recover(std::int64_t now_ms);

  [[nodiscard]] const PrintJob* find(const std::string& id) const;
  [[nodiscard]] std::size_t pending() const;  // recording, queued or printing
  [[nodiscard]] const std::vector<PrintJob>& jobs() const { return jobs_; }
  void drop(const std::string& id);

  [[nodiscard]] std::string serialize() const;
  // The queue as serialize() wrote it; nullopt when `text` is not one.
  [[nodiscard]] static std::optional<PrintQueue> parse(const std::string& text);

 private:
  PrintJob* find_mutable(const std::string& id);
  void trim();
  std::vector<PrintJob> jobs_;  // creation order
};

}  // namespace weighlink::agent::printer
