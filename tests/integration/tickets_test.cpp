// Weighings and tickets through the real agent (docs/tickets.md): captures from a pty scale found
// by plate, text and state; prints recorded in the outbox (original, then duplicates, counted
// across a restart and never two originals at once); the PDF read back with pdftotext and checked
// by qpdf; the print records replayed into the real backend; a weighing pruned into the evidence
// archive still found in the history, shown, and reprinted as a duplicate.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <future>
#include <set>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

std::string tickets_config(const std::string& source) {
  return "ticket:\n"
         "  header: ['Athi River weighbridge', 'P.O. Box 1, Athi River']\n"
         "  footer: ['Asante / Thank you']\n"
         "  fields: [record_id, captured_at, plate, customer, reference, operator]\n"
         "scales:\n"
         "  - {id: main, source: 'serial:" +
         source + "', protocol: mt-continuous}\n";
}

json::object capture(const std::string& http, const std::string& key, const std::string& plate,
                     const std::string& customer) {
  auto r = post_json(http, "/v1/captures", key,
                     R"({"operator":"amina","timeout_ms":10000,"reference":{"plate":")" + plate +
                         R"(","customer":")" + customer + "\"}}");
  REQUIRE_MESSAGE(r.status == 202, r.body);
  return body_of(r);
}

json::object get(const std::string& http, const std::string& target, int status = 200) {
  auto r = http_request(http, "GET", target);
  REQUIRE_MESSAGE(r.status == status, target, " ", r.body);
  return body_of(r);
}

json::object print(const std::string& http, std::uint64_t seq, const std::string& key,
                   int status = 202) {
  auto r = post_json(http, "/v1/tickets/" + std::to_string(seq) + "/print", key,
                     R"({"format":"pdf","operator":"amina"})");
  REQUIRE_MESSAGE(r.status == status, r.body);
  return body_of(r);
}

// The PDF's text as pdftotext reads it; qpdf --check must pass on it too.
std::string pdf_text(const TempDir& dir, const std::string& http, const std::string& target) {
  auto r = http_request(http, "GET", target);
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "application/pdf");
  const auto file = dir / "ticket.pdf";
  write_text(file, r.body);
  const auto check = run({"qpdf", "--check", file.string()});
  CHECK_MESSAGE(check.exit_code == 0, check.output);
  const auto text = run_split({"pdftotext", "-layout", file.string(), "-"});
  REQUIRE_MESSAGE(text.exit_code == 0, text.err);
  return text.out;
}

}  // namespace

TEST_CASE(
    "tickets: a capture is found by plate, text and state; prints are original then "
    "duplicate, also after a restart") {
  TempDir dir("wl-tickets");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  const auto config = tickets_config(scale.path());
  auto agent = std::make_unique<AgentProcess>(dir, std::vector<std::string>{}, config);
  const auto first = capture(agent->http, "cap-1", "kbx 123-a", "Mombasa Cement");
  return_to_zero(indicator, agent->http, "32540");  // the next truck (docs/legal-metrology.md)
  const auto second = capture(agent->http, "cap-2", "KCA 9", "Bamburi");
  const auto seq = first.at("seq").as_int64();
  const std::string weight(first.at("weighing").at("weight").as_string());

  auto found = get(agent->http, "/v1/weighings?plate=KBX-123A");
  REQUIRE(found.at("items").as_array().size() == 1);
  const auto& item = found.at("items").at(0);
  CHECK(item.at("seq") == seq);
  CHECK(item.at("weight") == json::value(weight));
  CHECK(item.at("plate") == "kbx 123-a");
  CHECK(item.at("state") == "queued");
  CHECK(item.at("operator") == "amina");
  CHECK(get(agent->http, "/v1/weighings?q=bambur").at("items").at(0).at("seq") == second.at("seq"));
  CHECK(get(agent->http, "/v1/weighings?state=queued").at("items").as_array().size() == 2);
  CHECK(get(agent->http, "/v1/weighings?state=sent").at("items").as_array().empty());
  auto page = get(agent->http, "/v1/weighings?limit=1");
  CHECK(page.at("items").at(0).at("seq") == second.at("seq"));  // newest first
  CHECK(page.at("next_before") == second.at("seq"));
  CHECK(get(agent->http, "/v1/weighings?plate=K/1", 400).at("error") == "invalid_query");

  // Looking is not printing.
  auto model = get(agent->http, "/v1/tickets/" + std::to_string(seq));
  CHECK(model.at("copy") == "original");
  CHECK(model.at("print_number") == 0);
  CHECK(model.at("record_id") == json::value("st-1/" + std::to_string(seq)));

  auto original = print(agent->http, seq, "print-1");
  CHECK(original.at("copy") == "original");
  CHECK(original.at("print_number") == 1);
  CHECK(print(agent->http, seq, "print-1", 200).at("print_number") == 1);  // a retry
  auto duplicate = print(agent->http, seq, "print-2");
  CHECK(duplicate.at("copy") == "duplicate");
  CHECK(duplicate.at("copy_label") == "DUPLICATE");
  CHECK(duplicate.at("print_number") == 2);

  const auto record_id = "st-1/" + std::to_string(seq);
  const auto text = pdf_text(dir, agent->http, "/v1/tickets/" + std::to_string(seq) + ".pdf");
  CHECK(text.find(record_id) != std::string::npos);
  CHECK(text.find(weight + " kg") != std::string::npos);
  CHECK(text.find("DUPLICATE") != std::string::npos);
  CHECK(text.find("Athi River weighbridge") != std::string::npos);
  CHECK(text.find("Mombasa Cement") != std::string::npos);
  CHECK(text.find(std::string(model.at("hash_prefix").as_string())) != std::string::npos);
  if (const auto* sw = first.at("weighing").as_object().if_contains("software")) {
    CHECK(text.find(std::string(sw->at("version").as_string())) != std::string::npos);
  }
  const auto first_print =
      pdf_text(dir, agent->http, "/v1/tickets/" + std::to_string(seq) + ".pdf?print=1");
  CHECK(first_print.find("ORIGINAL") != std::string::npos);
  CHECK(first_print.find("DUPLICATE") == std::string::npos);
  const auto swahili =
      pdf_text(dir, agent->http, "/v1/tickets/" + std::to_string(seq) + ".pdf?lang=sw");
  CHECK(swahili.find("NAKALA") != std::string::npos);
  CHECK(swahili.find("Mteja") != std::string::npos);

  // The count is in the outbox: a restarted agent goes on from it.
  CHECK(agent->process->terminate() == 0);
  agent.reset();
  agent = std::make_unique<AgentProcess>(dir, std::vector<std::string>{}, config);
  CHECK(print(agent->http, seq, "print-3").at("print_number") == 3);

  // Prints of one weighing sent at once: numbered one after another, one original.
  const auto other = second.at("seq").as_int64();
  std::vector<std::future<json::object>> prints;
  prints.reserve(6);
  for (int i = 0; i < 6; ++i) {
    prints.push_back(std::async(std::launch::async, [&, i] {
      return print(agent->http, other, "concurrent-" + std::to_string(i));
    }));
  }
  std::set<std::int64_t> numbers;
  int originals = 0;
  for (auto& p : prints) {
    auto answer = p.get();
    numbers.insert(answer.at("print_number").as_int64());
    originals += answer.at("copy") == "original" ? 1 : 0;
  }
  CHECK(numbers == std::set<std::int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(originals == 1);
  CHECK(get(agent->http, "/v1/tickets/999", 404).at("error") == "weighing_not_found");
  // A print record is not a weighing; a print that was not made has no ticket.
  const auto print_seq = original.at("print").at("seq").as_int64();
  CHECK(get(agent->http, "/v1/tickets/" + std::to_string(print_seq), 404).at("error") ==
        "weighing_not_found");
  CHECK(get(agent->http, "/v1/tickets/" + std::to_string(seq) + "?print=4", 404).at("error") ==
        "print_not_found");
  const auto target = "/v1/tickets/" + std::to_string(seq) + "/print";
  CHECK(body_of(post_json(agent->http, target, "", "{}")).at("error") == "idempotency_key_missing");
  auto bad_format = post_json(agent->http, target, "print-x", R"({"format":"docx"})");
  CHECK(bad_format.status == 400);
  CHECK(body_of(bad_format).at("error") == "invalid_format");
  CHECK(post_json(agent->http, "/v1/weighings", "w-1", "{}").status == 405);
  const auto metrics = http_request(agent->http, "GET", "/metrics").body;
  CHECK(metrics.find("\nweighlink_agent_ticket_prints_total 7\n") != std::string::npos);
  indicator.stop();
}

TEST_CASE("tickets: print records replay into the backend beside the weighing") {
  TempDir dir("wl-tickets");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("18000"));
  StationBackend backend(dir);
  AgentProcess agent(dir, backend.agent_args(), tickets_config(scale.path()));
  const auto seq = capture(agent.http, "cap-1", "KBX123A", "Mombasa Cement").at("seq").as_int64();
  print(agent.http, seq, "print-1");
  print(agent.http, seq, "print-2");
  const auto sql =
      "select string_agg(kind || ':' || (coalesce(payload, payload_text::jsonb)->>'print_number') "
      "|| ':' || "
      "(coalesce(payload, payload_text::jsonb)->>'copy'), ',' order by seq) from mutation_log "
      "where station_id='st-1' and kind='weighlink.ticket_printed'";
  const bool landed = eventually(
      [&] {
        return backend.pg().query_scalar(sql) ==
               "weighlink.ticket_printed:1:original,weighlink.ticket_printed:2:duplicate";
      },
      30s, 100ms);
  CHECK_MESSAGE(landed, backend.pg().query_scalar(sql), "\n", agent.process->log());
  REQUIRE(eventually(
      [&] {
        return get(agent.http, "/v1/weighings?state=sent").at("items").as_array().size() == 1;
      },
      30s));
  indicator.stop();
}

TEST_CASE("tickets: a pruned weighing is found, shown and reprinted from the evidence archive") {
  TempDir dir("wl-tickets-archive");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("18000"));
  StationBackend backend(dir);
  AgentProcess agent(
      dir, backend.agent_args(),
      tickets_config(scale.path()) + "hello_interval_ms: 1000\noutbox:\n  min_retention_days: 0\n");
  const auto seq = capture(agent.http, "cap-1", "KBX 123-A", "Mombasa Cement").at("seq").as_int64();
  const auto s = std::to_string(seq);
  REQUIRE(eventually(
      [&] {
        return get(agent.http, "/v1/weighings?state=sent").at("items").as_array().size() == 1;
      },
      30s));
  // A verified backup holds the weighing (what verify-backup records): the agent prunes it into
  // the evidence archive at its next Hello, as the records' prune test does.
  CHECK(backend.pg().query_scalar("UPDATE stations SET durable_seq = " + s +
                                  " WHERE id = 'st-1' RETURNING durable_seq") == s);
  REQUIRE(eventually(
      [&] { return agent_status(agent.http).at("outbox").at("pruned_through_seq") == seq; }, 20s));
  CHECK(get(agent.http, "/v1/records/" + s).at("archived") == true);

  // The history still has it, marked archived, found by its plate and its state.
  for (const auto* target : {"/v1/weighings", "/v1/weighings?plate=KBX123A&state=sent"}) {
    const auto items = get(agent.http, target).at("items").as_array();
    REQUIRE_MESSAGE(items.size() == 1, target);
    CHECK(items[0].at("seq") == seq);
    CHECK(items[0].at("archived") == true);
    CHECK(items[0].at("state") == "sent");
    CHECK(items[0].at("reference").at("customer") == "Mombasa Cement");
  }
  CHECK(get(agent.http, "/v1/weighings?state=queued").at("items").as_array().empty());

  // Its ticket and PDF come back, and prints count on: the original, then a duplicate.
  const auto model = get(agent.http, "/v1/tickets/" + s);
  CHECK(model.at("record_id") == json::value("st-1/" + s));
  CHECK(model.at("copy") == "original");
  const auto text = pdf_text(dir, agent.http, "/v1/tickets/" + s + ".pdf");
  CHECK(text.find("st-1/" + s) != std::string::npos);
  CHECK(text.find("Mombasa Cement") != std::string::npos);
  CHECK(print(agent.http, seq, "print-1").at("copy") == "original");
  const auto duplicate = print(agent.http, seq, "print-2");
  CHECK(duplicate.at("copy") == "duplicate");
  CHECK(duplicate.at("print_number") == 2);
  CHECK(get(agent.http, "/v1/tickets/" + s).at("copy") == "duplicate");
  const auto sql =
      "select string_agg((coalesce(payload, payload_text::jsonb)->>'seq') || ':' || "
      "(coalesce(payload, payload_text::jsonb)->>'copy'), ',' order by seq) "
      "from mutation_log where station_id='st-1' and kind='weighlink.ticket_printed'";
  const bool landed = eventually(
      [&] { return backend.pg().query_scalar(sql) == s + ":original," + s + ":duplicate"; }, 30s,
      100ms);
  CHECK_MESSAGE(landed, backend.pg().query_scalar(sql));
  CHECK(get(agent.http, "/v1/tickets/999999", 404).at("error") == "weighing_not_found");
  indicator.stop();
}
