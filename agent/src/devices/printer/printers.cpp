// The printers component (printers.hpp): each printer's queue on the io thread, its link on a
// thread of its own, and auto-print on capture.
//
// Exactly once on paper: a job is handed to the link only when the printer last answered ok; the
// link asks the status again (DLE EOT) just before writing, writes the whole job, and asks once
// more; the job is done only when every byte was written and the status after is ok. A job that
// was not written, or whose status after was not ok (paper ran out in the middle, the cover
// opened), is queued again and printed whole when the printer is back. The one ambiguous window:
// the bytes reached the printer but the answer after them did not reach the agent (cable pulled,
// the agent killed, in that instant): the job is printed again. docs/devices.md says so.
#include "devices/printer/printers.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "core/api_common.hpp"
#include "tickets/ticket_print.hpp"

namespace weighlink::agent {
namespace printer {
namespace json = boost::json;

std::string queue_state_key(const std::string& printer_id) { return "printer/job/" + printer_id; }

namespace {

std::int64_t now_ms(const DeviceEnv& env) { return to_ms(env.clock->now()); }

// Runs on the link thread: waits for a job (or the poll interval), asks the state, sends.
void link_loop(
    const std::shared_ptr<Printer>& p, const std::function<void(std::function<void()>)>& post,
    const std::function<void(const std::shared_ptr<Printer>&, PrinterStatus,
                             std::optional<std::pair<std::string, SendResult>>)>& report) {
  for (;;) {
    std::optional<Printer::Assignment> job;
    {
      std::unique_lock lock(p->mutex);
      p->wake.wait_for(lock, p->config.poll_interval,
                       [&] { return p->stop || p->poke || p->assignment.has_value(); });
      if (p->stop) return;
      p->poke = false;
      job = std::exchange(p->assignment, std::nullopt);
    }
    auto before = p->link->probe();
    std::optional<std::pair<std::string, SendResult>> outcome;
    if (job) {
      SendResult sent{false, before.detail};
      if (before.state == PrinterState::ok) {
        sent = p->link->send(job->document, job->title);
        before = p->link->probe();
        // Written, then no answer: a printer busy with the job may answer late. Asked again (a
        // few times) before the job counts as not printed and would print a second time.
        for (int again = 0; sent.written && again < 3 && before.state == PrinterState::offline;
             ++again) {
          before = p->link->probe();
        }
        if (!sent.written && before.state == PrinterState::ok) {
          // It answers but took no job (CUPS refused it): not ready, whatever it says.
          before = PrinterStatus{PrinterState::error, sent.detail, before.paper_near_end};
        } else if (sent.written && before.state != PrinterState::ok) {
          sent = {false, "the printer reported '" + before.detail + "' after the job"};
        }
      }
      outcome.emplace(job->job_id, std::move(sent));
    }
    std::weak_ptr<Printer> weak = p;
    post([weak, report, before = std::move(before), outcome = std::move(outcome)]() mutable {
      if (auto sp = weak.lock()) report(sp, std::move(before), std::move(outcome));
    });
  }
}

}  // namespace

PrinterComponent::PrinterComponent(DeviceEnv env) : env_(std::move(env)) {
  for (const auto& c : env_.config->printers.printers) {
    auto p = std::make_shared<Printer>();
    p->config = c;
    p->link = c.type == "cups" ? make_cups_link(c) : make_escpos_link(c);
    p->since_ms = now_ms(env_);
    if (auto stored = env_.outbox->get_state(queue_state_key(c.id))) {
      if (auto q = PrintQueue::parse(*stored)) {
        p->queue = std::move(*q);
      } else {
        spdlog::error("printer {}: its stored job queue is unreadable; starting empty", c.id);
      }
    }
    // A job whose print was never recorded (the agent stopped while recording it) is dropped.
    std::vector<std::string> unrecorded;
    for (const auto& j : p->queue.jobs()) {
      if (j.state == JobState::recording && !env_.outbox->find(j.key)) unrecorded.push_back(j.id);
    }
    for (const auto& id : unrecorded) p->queue.drop(id);
    p->queue.recover(p->since_ms);
    printers_.push_back(std::move(p));
  }
}

PrinterComponent::~PrinterComponent() { stop(); }

void persist_queue(const DeviceEnv& env, Printer& p) {
  // While a print is being recorded its mutation carries the queue; a write now could land
  // after it with an older view, so it waits for that commit.
  if (p.creating > 0) {
    p.dirty = true;
    return;
  }
  p.dirty = false;
  env.outbox->put_state({queue_state_key(p.config.id), p.queue.serialize()},
                        [id = p.config.id](boost::system::result<void> r) {
                          if (!r) spdlog::error("printer {}: saving its job queue failed", id);
                        });
}

namespace {

// The document of a job, as the printer's type wants it; nullopt when the weighing is gone.
std::optional<std::string> document(const DeviceEnv& env, const Printer& p, const PrintJob& job) {
  auto rows = env.outbox->records(job.seq, job.seq, 1);
  if (rows.empty() || rows.front().row.kind != "weighing.captured") return std::nullopt;
  const auto& row = rows.front().row;
  const auto payload = api::parse_payload(row.payload_json);
  const TicketInput input{job.seq, env.config->station_id, row.record_hash,
                          record::is_json_object(payload) ? &payload.as_object() : nullptr};
  const auto& layout = env.config->ticket;
  const auto t = build_ticket(input, layout, job.language, TicketPrint{job.print_number});
  if (p.config.type == "cups") return ticket_pdf(t, layout.logo_jpeg);
  return escpos_ticket(t, {escpos_columns(p.config.paper), p.config.qr});
}

void dispatch(const DeviceEnv& env, Printer& p) {
  if (p.stopping || p.sending || p.status.state != PrinterState::ok) return;
  while (const auto* job = p.queue.next()) {
    const auto id = job->id;
    auto doc = document(env, p, *job);
    if (!doc) {
      spdlog::error("printer {}: job {}: weighing {} is no longer stored; job cancelled",
                    p.config.id, id, job->seq);
      (void)p.queue.cancel(id, now_ms(env));
      persist_queue(env, p);
      continue;
    }
    p.queue.start(id, now_ms(env));
    persist_queue(env, p);
    p.sending = true;
    {
      std::lock_guard lock(p.mutex);
      p.assignment = Printer::Assignment{
          id, std::move(*doc),
          "ticket " + env.config->station_id + "/" + std::to_string(p.queue.find(id)->seq)};
    }
    p.wake.notify_one();
    return;
  }
}

void report(const DeviceEnv& env, const std::shared_ptr<Printer>& p, PrinterStatus status,
            std::optional<std::pair<std::string, SendResult>> outcome) {
  if (status.state != p->status.state || status.detail != p->status.detail) {
    if (status.state != p->status.state) {
      spdlog::info("printer {}: {}{}{}", p->config.id, to_string(status.state),
                   status.detail.empty() ? "" : ": ", status.detail);
      p->since_ms = now_ms(env);
    }
    p->status = status;
  }
  if (outcome) {
    p->sending = false;
    const auto& [id, sent] = *outcome;
    p->queue.finished(id, sent.written, sent.detail, now_ms(env));
    (sent.written ? p->printed : p->failed) += 1;
    if (sent.written) {
      spdlog::info("printer {}: job {} printed", p->config.id, id);
    } else {
      spdlog::warn("printer {}: job {} not printed ({}); kept for when the printer is back",
                   p->config.id, id, sent.detail);
    }
    persist_queue(env, *p);
    // A job that did not print is tried again at the next poll, not at once.
    if (!sent.written) return;
  }
  dispatch(env, *p);
}

}  // namespace

void PrinterComponent::start() {
  for (auto& p : printers_) {
    if (p->worker.joinable() || !p->link) continue;
    p->stopping = false;
    {
      std::lock_guard lock(p->mutex);
      p->stop = false;
      p->poke = true;
    }
    auto env = env_;
    p->worker = std::thread(link_loop, p, env_.post,
                            [env](const std::shared_ptr<Printer>& sp, PrinterStatus s,
                                  std::optional<std::pair<std::string, SendResult>> o) {
                              report(env, sp, std::move(s), std::move(o));
                            });
  }
}

void PrinterComponent::stop() {
  for (auto& p : printers_) {
    p->stopping = true;
    {
      std::lock_guard lock(p->mutex);
      p->stop = true;
    }
    p->wake.notify_all();
    if (p->link) p->link->interrupt();
    if (p->worker.joinable()) p->worker.join();
  }
}

void PrinterComponent::create_job(const std::shared_ptr<Printer>& p, const sync::OutboxRow& row,
                                  const std::string& key, std::string request_hash,
                                  const std::string& operator_id, const std::string& origin,
                                  std::function<void(Created)> done) {
  TicketPrintOrder order;
  order.seq = row.seq;
  order.weighing_key = row.idempotency_key;
  order.key = key;
  order.request_hash = std::move(request_hash);
  order.format = p->config.type;
  order.operator_id = operator_id;
  order.extra = json::object{{"printer", p->config.id}};
  auto job_id = std::make_shared<std::string>();
  const auto language = env_.config->ticket.language.empty() ? "en" : env_.config->ticket.language;
  order.writes = [this, p, job_id, key, operator_id, origin, seq = row.seq,
                  language](std::uint64_t number) {
    PrintJob job;
    job.id = std::to_string(seq) + "-" + std::to_string(number);
    job.seq = seq;
    job.print_number = number;
    job.key = key;
    job.language = language;
    job.operator_id = operator_id;
    job.origin = origin;
    job.created_ms = job.updated_ms = now_ms(env_);
    *job_id = job.id;
    p->queue.add(std::move(job));
    return std::vector<sync::StateWrite>{{queue_state_key(p->config.id), p->queue.serialize()}};
  };
  ++p->creating;
  record_ticket_print({env_.config->station_id, env_.outbox, env_.clock, env_.post},
                      std::move(order),
                      [this, p, job_id, done = std::move(done)](sync::EnqueueResult result) {
                        --p->creating;
                        const bool accepted = result.status == sync::EnqueueStatus::accepted;
                        if (!job_id->empty()) {
                          p->queue.recorded(*job_id, accepted, now_ms(env_));
                          persist_queue(env_, *p);
                        } else if (p->dirty) {
                          persist_queue(env_, *p);
                        }
                        if (accepted) dispatch(env_, *p);
                        done(Created{std::move(result), accepted ? *job_id : std::string()});
                      });
}

void PrinterComponent::on_recorded(const RecordedWeighing& w) {
  if (w.replayed) return;  // printed when it was recorded
  for (const auto& p : printers_) {
    const auto& c = p->config;
    if (!c.auto_print) continue;
    if (!c.scales.empty() &&
        std::find(c.scales.begin(), c.scales.end(), w.scale_id) == c.scales.end()) {
      continue;
    }
    const auto payload = api::parse_payload(w.row.payload_json);
    std::string operator_id;
    if (payload.is_object()) {
      if (const auto* o = payload.as_object().if_contains("operator"); o && o->is_string()) {
        operator_id = std::string(o->as_string());
      }
    }
    for (int copy = 1; copy <= c.copies; ++copy) {
      const auto key = w.row.idempotency_key + ":print:" + c.id + ":" + std::to_string(copy);
      create_job(
          p, w.row, key, "auto-print " + key, operator_id, "auto",
          [id = c.id, key](const Created& created) {
            if (created.job_id.empty() && created.result.status != sync::EnqueueStatus::replayed) {
              spdlog::error("printer {}: auto-print {} not recorded: {}", id, key,
                            created.result.message);
            }
          });
    }
  }
}

void PrinterComponent::health(std::vector<DeviceHealth>& out) const {
  for (const auto& p : printers_) {
    DeviceHealth h;
    h.id = p->config.id;
    h.kind = "printer";
    h.state = std::string(to_string(p->status.state));
    h.detail = p->status.detail;
    h.since_ms = p->since_ms;
    h.extra = json::object{{"pending_jobs", p->queue.pending()},
                           {"paper_near_end", p->status.paper_near_end}};
    out.push_back(std::move(h));
  }
}

std::shared_ptr<Printer> PrinterComponent::find(const std::string& id) const {
  for (const auto& p : printers_) {
    if (p->config.id == id) return p;
  }
  return nullptr;
}

}  // namespace printer

void add_printers(DeviceHub& hub, CaptureContext& /*captures*/) {
  if (hub.env().config->printers.printers.empty()) return;
  hub.add(std::make_unique<printer::PrinterComponent>(hub.env()));
}

}  // namespace weighlink::agent
