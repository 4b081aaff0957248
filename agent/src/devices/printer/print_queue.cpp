// PrintQueue (print_queue.hpp): the printer's jobs and their states.
#include "weighlink/agent/printer/print_queue.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>

namespace weighlink::agent::printer {
namespace json = boost::json;
namespace {

constexpr std::array<std::string_view, 5> kStates = {"recording", "queued", "printing", "done",
                                                     "cancelled"};

std::optional<JobState> parse_state(std::string_view s) {
  for (std::size_t i = 0; i < kStates.size(); ++i) {
    if (kStates[i] == s) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

bool is_finished(JobState s) { return s == JobState::done || s == JobState::cancelled; }

}  // namespace

std::string_view to_string(JobState state) { return kStates[static_cast<std::size_t>(state)]; }

json::object to_json(const PrintJob& j) {
  return json::object{{"id", j.id},
                      {"seq", j.seq},
                      {"print_number", j.print_number},
                      {"copy", j.print_number <= 1 ? "original" : "duplicate"},
                      {"key", j.key},
                      {"language", j.language},
                      {"operator", j.operator_id},
                      {"origin", j.origin},
                      {"state", to_string(j.state)},
                      {"attempts", j.attempts},
                      {"created_ms", j.created_ms},
                      {"updated_ms", j.updated_ms},
                      {"detail", j.detail}};
}

void PrintQueue::add(PrintJob job) { jobs_.push_back(std::move(job)); }

PrintJob* PrintQueue::find_mutable(const std::string& id) {
  for (auto& j : jobs_) {
    if (j.id == id) return &j;
  }
  return nullptr;
}

const PrintJob* PrintQueue::find(const std::string& id) const {
  for (const auto& j : jobs_) {
    if (j.id == id) return &j;
  }
  return nullptr;
}

void PrintQueue::drop(const std::string& id) {
  std::erase_if(jobs_, [&](const PrintJob& j) { return j.id == id; });
}

void PrintQueue::recorded(const std::string& id, bool accepted, std::int64_t now_ms) {
  auto* j = find_mutable(id);
  if (!j || j->state != JobState::recording) return;
  if (!accepted) return drop(id);
  j->state = JobState::queued;
  j->updated_ms = now_ms;
}

const PrintJob* PrintQueue::next() const {
  const PrintJob* first = nullptr;
  for (const auto& j : jobs_) {
    if (j.state == JobState::printing) return nullptr;
    if (j.state == JobState::queued && !first) first = &j;
  }
  return first;
}

bool PrintQueue::start(const std::string& id, std::int64_t now_ms) {
  auto* j = find_mutable(id);
  if (!j || j->state != JobState::queued) return false;
  j->state = JobState::printing;
  ++j->attempts;
  j->updated_ms = now_ms;
  return true;
}

void PrintQueue::finished(const std::string& id, bool printed, const std::string& detail,
                          std::int64_t now_ms) {
  auto* j = find_mutable(id);
  if (!j || j->state != JobState::printing) return;
  j->state = printed ? JobState::done : JobState::queued;
  j->detail = detail;
  j->updated_ms = now_ms;
  trim();
}

PrintQueue::CancelResult PrintQueue::cancel(const std::string& id, std::int64_t now_ms) {
  auto* j = find_mutable(id);
  if (!j) return CancelResult::not_found;
  if (j->state == JobState::printing) return CancelResult::printing;
  if (is_finished(j->state)) return CancelResult::finished;
  j->state = JobState::cancelled;
  j->updated_ms = now_ms;
  trim();
  return CancelResult::cancelled;
}

void PrintQueue::recover(std::int64_t now_ms) {
  for (auto& j : jobs_) {
    if (j.state != JobState::printing && j.state != JobState::recording) continue;
    j.state = JobState::queued;
    j.detail = "the agent stopped while this job was being sent: printed again";
    j.updated_ms = now_ms;
  }
}

std::size_t PrintQueue::pending() const {
  return static_cast<std::size_t>(std::count_if(
      jobs_.begin(), jobs_.end(), [](const PrintJob& j) { return !is_finished(j.state); }));
}

void PrintQueue::trim() {
  std::size_t done = 0;
  for (const auto& j : jobs_) done += is_finished(j.state) ? 1 : 0;
  for (auto it = jobs_.begin(); done > kKeepFinished && it != jobs_.end();) {
    if (is_finished(it->state)) {
      it = jobs_.erase(it);
      --done;
    } else {
      ++it;
    }
  }
}

std::string PrintQueue::serialize() const {
  json::array a;
  for (const auto& j : jobs_) a.push_back(to_json(j));
  return json::serialize(json::object{{"version", 1}, {"jobs", std::move(a)}});
}

std::optional<PrintQueue> PrintQueue::parse(const std::string& text) {
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* jobs = v.as_object().if_contains("jobs");
  if (!jobs || !jobs->is_array()) return std::nullopt;
  PrintQueue q;
  for (const auto& e : jobs->as_array()) {
    if (!e.is_object()) return std::nullopt;
    const auto& o = e.as_object();
    const auto str = [&](const char* k) {
      const auto* m = o.if_contains(k);
      return m && m->is_string() ? std::string(m->as_string()) : std::string();
    };
    const auto num = [&](const char* k) -> std::int64_t {
      const auto* m = o.if_contains(k);
      if (!m) return 0;
      if (m->is_int64()) return m->as_int64();
      if (m->is_uint64()) return static_cast<std::int64_t>(m->as_uint64());
      return 0;
    };
    PrintJob j;
    j.id = str("id");
    j.seq = static_cast<std::uint64_t>(num("seq"));
    j.print_number = static_cast<std::uint64_t>(num("print_number"));
    j.key = str("key");
    j.language = str("language");
    j.operator_id = str("operator");
    j.origin = str("origin");
    const auto state = parse_state(str("state"));
    if (j.id.empty() || j.seq == 0 || !state) return std::nullopt;
    j.state = *state;
    j.attempts = static_cast<int>(num("attempts"));
    j.created_ms = num("created_ms");
    j.updated_ms = num("updated_ms");
    j.detail = str("detail");
    q.jobs_.push_back(std::move(j));
  }
  return q;
}

}  // namespace weighlink::agent::printer
