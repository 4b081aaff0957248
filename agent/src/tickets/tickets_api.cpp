// The tickets' routes (tickets.hpp): the recent weighings from the outbox, a weighing's ticket
// as JSON or PDF, and its prints, each recorded as a weighlink.ticket_printed mutation.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "core/api_common.hpp"
#include "devices/camera/image_routes.hpp"
#include "tickets/ticket_print.hpp"
#include "weighlink/agent/tickets.hpp"
#include "weighlink/agent/weighings.hpp"
#include "weighlink/base/timestamp.hpp"

namespace weighlink::agent {
namespace json = boost::json;
using namespace api;

namespace {

constexpr std::string_view kTickets = "/v1/tickets/";

// A seq in a path: 1 or more.
std::optional<std::uint64_t> parse_seq(std::string_view text) {
  const auto v = parse_count(text);
  return v && *v > 0 ? v : std::nullopt;
}

std::vector<std::pair<std::string, std::string>> query_params(const HttpRequest& request) {
  std::vector<std::pair<std::string, std::string>> out;
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) return out;
  for (const auto& p : url->params()) out.emplace_back(p.key, p.value);
  return out;
}

// The stored weighing with `seq`, when the outbox or, once pruned, its evidence archive holds one
// (the records' lookup: a reprint of last month's ticket finds it).
std::optional<sync::OutboxRow> weighing_row(sync::Outbox& outbox, std::uint64_t seq) {
  auto rows = outbox.records(seq, seq, 1);
  if (rows.empty() || rows.front().row.kind != "weighing.captured") return std::nullopt;
  return std::move(rows.front().row);
}

HttpResponse no_weighing(std::uint64_t seq, const std::string& correlation_id) {
  return error_response(
      404, "weighing_not_found",
      "no weighing with seq " + std::to_string(seq) +
          " in this station's outbox or evidence archive; find it with GET /v1/weighings",
      correlation_id);
}

}  // namespace

std::string ticket_print_count_key(std::uint64_t seq) {
  return "ticket.prints." + std::to_string(seq);
}

TicketRoutes::TicketRoutes(const ApiContext& context, TicketConfig layout,
                           const sync::BlobStore* images)
    : station_id_(context.station_id),
      outbox_(context.outbox),
      images_(images),
      clock_(context.clock),
      post_(context.post),
      layout_(std::move(layout)) {}

std::string TicketRoutes::language(const HttpRequest& request) const {
  for (const auto& [k, v] : query_params(request)) {
    if (k == "lang" && (v == "en" || v == "sw")) return v;
  }
  return layout_.language.empty() ? "en" : layout_.language;
}

bool TicketRoutes::handle(const HttpRequest& request, const std::string& path,
                          const std::string& correlation_id, Respond& respond) {
  const auto& m = request.method;
  const auto not_allowed = [&](const std::string& allowed) {
    respond(error_response(405, "method_not_allowed",
                           m + " is not allowed on " + path + "; use " + allowed, correlation_id));
    return true;
  };
  if (path == "/v1/weighings") {
    if (m != "GET") return not_allowed("GET");
    weighings(request, correlation_id, respond);
    return true;
  }
  if (!path.starts_with(kTickets)) return false;
  std::string rest = path.substr(kTickets.size());
  std::string action;
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  const bool pdf = action.empty() && rest.ends_with(".pdf");
  if (pdf) rest.resize(rest.size() - 4);
  const auto seq = parse_seq(rest);
  if (!seq || (!action.empty() && action != "print")) {
    respond(error_response(404, "not_found",
                           "no such resource: " + path +
                               " (tickets: /v1/tickets/{seq}, /v1/tickets/{seq}.pdf, POST "
                               "/v1/tickets/{seq}/print)",
                           correlation_id));
    return true;
  }
  if (action == "print") {
    if (m != "POST") return not_allowed("POST");
    print(request, *seq, correlation_id, respond);
    return true;
  }
  if (m != "GET") return not_allowed("GET");
  ticket(request, *seq, pdf, correlation_id, respond);
  return true;
}

void TicketRoutes::weighings(const HttpRequest& request, const std::string& correlation_id,
                             const Respond& respond) {
  auto parsed = parse_weighings_query(query_params(request));
  if (const auto* refusal = std::get_if<QueryRefusal>(&parsed)) {
    return respond(error_response(400, "invalid_query",
                                  refusal->parameter + ": " + refusal->message, correlation_id));
  }
  const auto& query = std::get<sync::WeighingQuery>(parsed);
  const auto rows = outbox_->search_weighings(query);
  json::array items;
  for (const auto& row : rows) items.push_back(weighing_item(row));
  json::value next = nullptr;
  if (rows.size() == query.limit && !rows.empty()) next = rows.back().row.seq;
  respond(json_response(200, json::object{{"items", std::move(items)}, {"next_before", next}}));
}

void TicketRoutes::ticket(const HttpRequest& request, std::uint64_t seq, bool pdf,
                          const std::string& correlation_id, const Respond& respond) {
  const auto row = weighing_row(*outbox_, seq);
  if (!row) return respond(no_weighing(seq, correlation_id));
  // Looking at a ticket is not printing it: it shows the latest recorded print (or `print=N`, an
  // earlier one); never printed: an original with print number 0.
  const std::uint64_t count = ticket_print_count(*outbox_, seq);
  TicketPrint print{count};
  for (const auto& [k, v] : query_params(request)) {
    if (k != "print") continue;
    const auto n = parse_seq(v);
    if (!n || *n > count) {
      return respond(error_response(404, "print_not_found",
                                    "weighing " + std::to_string(seq) + " has " +
                                        std::to_string(count) + " recorded prints; print=" + v +
                                        " is not one of them (1.." + std::to_string(count) + ")",
                                    correlation_id));
    }
    print.number = *n;
  }
  const auto payload = parse_payload(row->payload_json);
  const TicketInput input{seq, station_id_, row->record_hash,
                          record::is_json_object(payload) ? &payload.as_object() : nullptr};
  auto t = build_ticket(input, layout_, language(request), print);
  if (auto images = camera::weighing_images(*outbox_, seq)) t.images = ticket_images(*images);
  if (!pdf) return respond(json_response(200, to_json(t)));
  // The stills' bytes, checked against their names: an altered or missing file is left out.
  std::vector<std::string> jpegs;
  for (const auto& i : t.images) {
    auto bytes = images_ && !i.sha256.empty() ? images_->get(i.sha256)
                                              : base::Expected<std::string>(std::string());
    jpegs.push_back(bytes ? std::move(*bytes) : std::string());
  }
  HttpResponse r;
  r.content_type = "application/pdf";
  r.body = ticket_pdf(t, layout_.logo_jpeg, jpegs);
  r.headers.emplace_back("Content-Disposition", "inline; filename=\"ticket-" + station_id_ + "-" +
                                                    std::to_string(seq) + ".pdf\"");
  respond(std::move(r));
}

// One print request, from its arrival to its answer.
struct TicketRoutes::PrintJob {
  std::uint64_t seq = 0;
  std::string key, hash, language, format, operator_id, correlation_id;
  sync::OutboxRow weighing;
  Respond respond;
};

HttpResponse TicketRoutes::print_answer(const PrintJob& job, int status,
                                        const sync::OutboxRow& printed) const {
  const auto payload = parse_payload(job.weighing.payload_json);
  const TicketInput input{job.seq, station_id_, job.weighing.record_hash,
                          record::is_json_object(payload) ? &payload.as_object() : nullptr};
  const auto p = parse_payload(printed.payload_json);
  TicketPrint print;
  std::string format = job.format;
  if (record::is_json_object(p)) {
    if (const auto* n = p.as_object().if_contains("print_number")) {
      print.number = static_cast<std::uint64_t>(record::exact_int64(*n).value_or(0));
    }
    if (const auto* f = p.as_object().if_contains("format"); f && f->is_string()) {
      format = std::string(f->as_string());
    }
  }
  auto model = to_json(build_ticket(input, layout_, job.language, print));
  model["print"] = json::object{
      {"seq", printed.seq}, {"idempotency_key", printed.idempotency_key}, {"format", format}};
  auto r = json_response(status, model);
  if (status == 200) r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

void TicketRoutes::print(const HttpRequest& request, std::uint64_t seq,
                         const std::string& correlation_id, Respond respond) {
  json::value body;
  if (auto refusal = check_capture_request(request, correlation_id, body)) {
    return respond(std::move(*refusal));
  }
  const auto& o = body.as_object();
  auto job = std::make_shared<PrintJob>();
  job->format = "html";
  std::optional<HttpResponse> error;
  if (!optional_string(o, "format", job->format, error, correlation_id) ||
      !optional_string(o, "operator", job->operator_id, error, correlation_id)) {
    return respond(std::move(*error));
  }
  if (job->format != "html" && job->format != "pdf") {
    return respond(error_response(
        400, "invalid_format",
        "\"format\" must be \"html\" or \"pdf\", not \"" + job->format + "\"", correlation_id));
  }
  auto row = weighing_row(*outbox_, seq);
  if (!row) return respond(no_weighing(seq, correlation_id));
  job->seq = seq;
  job->key = request.header("idempotency-key");
  job->hash = canonical_hash("POST /v1/tickets/" + std::to_string(seq) + "/print", body);
  job->language = language(request);
  job->correlation_id = correlation_id;
  job->weighing = std::move(*row);
  job->respond = std::move(respond);
  TicketPrintOrder order;
  order.seq = seq;
  order.weighing_key = job->weighing.idempotency_key;
  order.key = job->key;
  order.request_hash = job->hash;
  order.format = job->format;
  order.operator_id = job->operator_id;
  record_ticket_print(
      {station_id_, outbox_, clock_, post_}, std::move(order),
      [this, job](const sync::EnqueueResult& result) {
        if (result.status == sync::EnqueueStatus::accepted) {
          ++prints_;
          spdlog::info("[{}] ticket {}/{} printed, recorded as seq {}", job->correlation_id,
                       station_id_, job->seq, result.row.seq);
          job->respond(print_answer(*job, 202, result.row));
        } else if (result.status == sync::EnqueueStatus::replayed &&
                   result.row.request_hash == job->hash && result.row.kind == kTicketPrintedKind) {
          // A retry answers with the print it already recorded.
          job->respond(print_answer(*job, 200, result.row));
        } else if (result.status == sync::EnqueueStatus::replayed) {
          job->respond(replay_or_conflict(result.row, job->hash, job->correlation_id));
        } else {
          job->respond(enqueue_response(result, job->hash, job->correlation_id));
        }
      });
}

void TicketRoutes::metrics(std::string& out) const {
  out +=
      "# HELP weighlink_agent_ticket_prints_total Ticket prints recorded since the agent started.\n"
      "# TYPE weighlink_agent_ticket_prints_total counter\n"
      "weighlink_agent_ticket_prints_total " +
      std::to_string(prints_) + "\n";
}

}  // namespace weighlink::agent
