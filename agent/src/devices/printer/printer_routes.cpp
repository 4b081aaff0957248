// The printers' routes (printers.hpp, docs/local-api.md "Ticket printers"): the printers with
// their jobs, a print of a recorded weighing on one of them, and cancelling a waiting job.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "core/api_common.hpp"
#include "devices/printer/printers.hpp"
#include "tickets/ticket_print.hpp"

namespace weighlink::agent::printer {
namespace json = boost::json;
using namespace api;

namespace {
constexpr std::string_view kPrefix = "/v1/printers";

HttpResponse not_found(const std::string& what, const std::string& correlation_id) {
  return error_response(404, "not_found",
                        what +
                            " (printers: GET /v1/printers, POST /v1/printers/{id}/print, POST "
                            "/v1/printers/{id}/jobs/{job}/cancel)",
                        correlation_id);
}
}  // namespace

json::object PrinterComponent::printer_json(const Printer& p) const {
  json::array jobs;
  for (const auto& j : p.queue.jobs()) jobs.push_back(to_json(j));
  return json::object{{"id", p.config.id},
                      {"type", p.config.type},
                      {"transport", p.config.type == "cups" ? "cups" : p.config.transport},
                      {"auto_print", p.config.auto_print},
                      {"state", to_string(p.status.state)},
                      {"detail", p.status.detail},
                      {"since_ms", p.since_ms},
                      {"paper_near_end", p.status.paper_near_end},
                      {"pending_jobs", p.queue.pending()},
                      {"jobs", std::move(jobs)}};
}

void PrinterComponent::status(json::object& status) const {
  json::array all;
  for (const auto& p : printers_) all.push_back(printer_json(*p));
  status["printers"] = std::move(all);
}

void PrinterComponent::metrics(std::string& out) const {
  out +=
      "# HELP weighlink_printer_jobs_total Print jobs sent since start, by result (printed; "
      "failed: kept and tried again).\n# TYPE weighlink_printer_jobs_total counter\n";
  for (const auto& p : printers_) {
    const auto label = "{printer=\"" + p->config.id + "\",result=";
    out += "weighlink_printer_jobs_total" + label + "\"printed\"} " + std::to_string(p->printed) +
           "\n";
    out +=
        "weighlink_printer_jobs_total" + label + "\"failed\"} " + std::to_string(p->failed) + "\n";
  }
  out +=
      "# HELP weighlink_printer_jobs_pending Print jobs waiting for their printer.\n"
      "# TYPE weighlink_printer_jobs_pending gauge\n";
  for (const auto& p : printers_) {
    out += "weighlink_printer_jobs_pending{printer=\"" + p->config.id + "\"} " +
           std::to_string(p->queue.pending()) + "\n";
  }
}

bool PrinterComponent::handle(const HttpRequest& request, const std::string& path,
                              const std::string& correlation_id, Respond& respond) {
  if (path != kPrefix && !path.starts_with(std::string(kPrefix) + "/")) return false;
  routes(request, path, correlation_id, respond);
  return true;
}

void PrinterComponent::routes(const HttpRequest& request, const std::string& path,
                              const std::string& correlation_id, Respond& respond) {
  const auto not_allowed = [&](const std::string& allowed) {
    respond(error_response(405, "method_not_allowed",
                           request.method + " is not allowed on " + path + "; use " + allowed,
                           correlation_id));
  };
  if (path == kPrefix) {
    if (request.method != "GET") return not_allowed("GET");
    json::array all;
    for (const auto& p : printers_) all.push_back(printer_json(*p));
    return respond(json_response(200, json::object{{"printers", std::move(all)}}));
  }
  // /v1/printers/{id}/print, /v1/printers/{id}/jobs/{job}/cancel
  std::vector<std::string> parts;
  std::string rest = path.substr(kPrefix.size() + 1);
  for (std::size_t at = 0;;) {
    const auto slash = rest.find('/', at);
    parts.push_back(rest.substr(at, slash == std::string::npos ? std::string::npos : slash - at));
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  const bool print = parts.size() == 2 && parts[1] == "print";
  const bool cancel = parts.size() == 4 && parts[1] == "jobs" && parts[3] == "cancel";
  if (!print && !cancel) return respond(not_found("no such resource: " + path, correlation_id));
  auto p = find(parts[0]);
  if (!p) {
    return respond(not_found("no printer '" + parts[0] + "' is configured", correlation_id));
  }
  if (request.method != "POST") return not_allowed("POST");
  if (print) return print_request(p, request, correlation_id, respond);
  cancel_request(p, parts[2], correlation_id, respond);
}

void PrinterComponent::print_request(const std::shared_ptr<Printer>& p, const HttpRequest& request,
                                     const std::string& correlation_id, Respond respond) {
  json::value body;
  if (auto refusal = check_capture_request(request, correlation_id, body)) {
    return respond(std::move(*refusal));
  }
  const auto& o = body.as_object();
  std::optional<HttpResponse> error;
  std::string operator_id;
  if (!optional_string(o, "operator", operator_id, error, correlation_id)) {
    return respond(std::move(*error));
  }
  const auto* s = o.if_contains("seq");
  const auto seq = s ? record::exact_int64(*s) : std::nullopt;
  if (!seq || *seq <= 0) {
    return respond(error_response(400, "invalid_seq",
                                  "\"seq\" must be the weighing's seq (a whole number from 1; "
                                  "find it with GET /v1/weighings)",
                                  correlation_id));
  }
  auto rows =
      env_.outbox->records(static_cast<std::uint64_t>(*seq), static_cast<std::uint64_t>(*seq), 1);
  if (rows.empty() || rows.front().row.kind != "weighing.captured") {
    return respond(error_response(404, "weighing_not_found",
                                  "no weighing with seq " + std::to_string(*seq) +
                                      " in this station's outbox or evidence archive; find it "
                                      "with GET /v1/weighings",
                                  correlation_id));
  }
  const auto hash = canonical_hash("POST /v1/printers/" + p->config.id + "/print", body);
  create_job(p, rows.front().row, request.header("idempotency-key"), hash, operator_id, "request",
             [p, hash, correlation_id, respond = std::move(respond)](const Created& created) {
               const auto& r = created.result;
               if (r.status == sync::EnqueueStatus::replayed) {
                 if (r.row.kind != kTicketPrintedKind || r.row.request_hash != hash) {
                   return respond(replay_or_conflict(r.row, hash, correlation_id));
                 }
               } else if (r.status != sync::EnqueueStatus::accepted) {
                 return respond(enqueue_response(r, hash, correlation_id));
               }
               // The job's id is the weighing's seq and the print's number, as recorded.
               std::string job_id = created.job_id;
               const auto payload = parse_payload(r.row.payload_json);
               if (job_id.empty() && payload.is_object()) {
                 const auto& po = payload.as_object();
                 const auto* sq = po.if_contains("seq");
                 const auto* n = po.if_contains("print_number");
                 if (sq && n) {
                   job_id = std::to_string(record::exact_int64(*sq).value_or(0)) + "-" +
                            std::to_string(record::exact_int64(*n).value_or(0));
                 }
               }
               json::object answer{
                   {"printer", p->config.id},
                   {"print",
                    json::object{{"seq", r.row.seq}, {"idempotency_key", r.row.idempotency_key}}}};
               if (const auto* j = p->queue.find(job_id)) {
                 answer["job"] = to_json(*j);
               } else {
                 answer["job"] = json::object{{"id", job_id}};
               }
               const bool fresh = r.status == sync::EnqueueStatus::accepted;
               auto response = json_response(fresh ? 202 : 200, answer);
               if (!fresh) response.headers.emplace_back("Idempotent-Replayed", "true");
               respond(std::move(response));
             });
}

void PrinterComponent::cancel_request(const std::shared_ptr<Printer>& p, const std::string& job_id,
                                      const std::string& correlation_id, const Respond& respond) {
  const auto result = p->queue.cancel(job_id, to_ms(env_.clock->now()));
  const auto* job = p->queue.find(job_id);
  switch (result) {
    case PrintQueue::CancelResult::not_found:
      return respond(
          not_found("printer " + p->config.id + " has no job " + job_id, correlation_id));
    case PrintQueue::CancelResult::printing:
      return respond(error_response(409, "job_printing",
                                    "job " + job_id + " is being sent to " + p->config.id +
                                        " now and cannot be taken back; cancel it on the printer",
                                    correlation_id));
    case PrintQueue::CancelResult::finished:
      if (job && job->state == JobState::cancelled) break;  // cancelled already: the same answer
      return respond(error_response(409, "job_finished",
                                    "job " + job_id + " is already " +
                                        std::string(to_string(job ? job->state : JobState::done)),
                                    correlation_id));
    case PrintQueue::CancelResult::cancelled:
      ++p->cancelled;
      spdlog::info("[{}] printer {}: job {} cancelled", correlation_id, p->config.id, job_id);
      persist_queue(env_, *p);
      break;
  }
  respond(json_response(200, json::object{{"printer", p->config.id}, {"job", to_json(*job)}}));
}

}  // namespace weighlink::agent::printer
