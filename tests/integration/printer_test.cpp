// Ticket printers through the real agent (docs/devices.md, "Tickets on the printer at the
// scale"): an ESC/POS printer simulated on a pty and on a TCP listener answers the status
// queries; auto-print prints the original once, a reprint says DUPLICATE, a printer absent at
// start or out of paper keeps the job and prints it exactly once when it is back, a waiting job
// can be cancelled.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "agent_fixture.hpp"
#include "weighlink/testing/cups_server.hpp"
#include "weighlink/testing/escpos_printer.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

// `transport`: serial (the pty), usb (the pty as a printer device file) or tcp.
std::string printer_config(const std::string& scale, const std::string& printer, bool auto_print,
                           const std::string& transport = "") {
  const bool tcp = printer.starts_with("127.0.0.1:");
  const std::string how = tcp                  ? "tcp, address: '"
                          : transport == "usb" ? "usb, device: '"
                                               : "serial, port: '";
  return "printers:\n"
         "  - {id: tp, type: escpos, transport: " +
         how + printer + "', auto_print: " + (auto_print ? "true" : "false") +
         ", poll_interval_ms: 200, status_timeout_ms: 3000}\n"
         "scales:\n"
         "  - {id: main, source: 'serial:" +
         scale + "', protocol: mt-continuous}\n";
}

std::int64_t capture(const std::string& http, const std::string& key) {
  auto r = post_json(http, "/v1/captures", key,
                     R"({"operator":"amina","timeout_ms":10000,"reference":{"plate":"KBX 123A"}})");
  REQUIRE_MESSAGE(r.status == 202, r.body);
  return body_of(r).at("seq").as_int64();
}

json::object printer(const std::string& http) {
  auto r = http_request(http, "GET", "/v1/printers");
  REQUIRE(r.status == 200);
  return body_of(r).at("printers").as_array().at(0).as_object();
}

std::string job_state(const std::string& http, const std::string& job) {
  const auto p = printer(http);
  for (const auto& j : p.at("jobs").as_array()) {
    if (j.at("id") == json::value(job)) return std::string(j.at("state").as_string());
  }
  return "(none)";
}

// Waits for the n-th whole job; the agent's log is shown when it does not come.
bool printed(const EscposPrinter& p, std::size_t n, const TempDir& dir) {
  const bool ok = eventually([&] { return p.jobs().size() >= n; }, 20s);
  if (!ok) MESSAGE(read_file(dir / "agent.log"));
  return ok;
}

std::string device_state(const std::string& http) {
  const auto status = agent_status(http);
  for (const auto& d : status.at("devices").as_array()) {
    if (d.at("id") == "tp") return std::string(d.at("state").as_string());
  }
  return "(none)";
}

}  // namespace

TEST_CASE("printer: auto-print on capture prints the original once (serial printer on a pty)") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  auto sim = EscposPrinter::on_pty(dir / "printer");
  AgentProcess agent(dir, {}, printer_config(scale.path(), sim->address(), true));
  const auto seq = capture(agent.http, "cap-1");
  const auto job = std::to_string(seq) + "-1";
  REQUIRE(printed(*sim, 1, dir));
  const auto bytes = sim->jobs().at(0);
  CHECK(bytes.starts_with("\x1b@"));
  CHECK(bytes.find("ORIGINAL #1") != std::string::npos);
  CHECK(bytes.find("DUPLICATE") == std::string::npos);
  CHECK(bytes.find("st-1/" + std::to_string(seq)) != std::string::npos);
  CHECK(bytes.find("32540 kg") != std::string::npos);
  CHECK(eventually([&] { return job_state(agent.http, job) == "done"; }, 10s));
  CHECK(sim->jobs().size() == 1);
  CHECK(sim->lost_jobs() == 0);
  CHECK(device_state(agent.http) == "ok");
  // The print is recorded in the chain as the first of this weighing.
  auto t = body_of(http_request(agent.http, "GET", "/v1/tickets/" + std::to_string(seq)));
  CHECK(t.at("print_number") == 1);
  CHECK(t.at("copy") == "original");
  const auto metrics = http_request(agent.http, "GET", "/metrics").body;
  CHECK(metrics.find("weighlink_printer_jobs_total{printer=\"tp\",result=\"printed\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("weighlink_device_up{device=\"tp\",kind=\"printer\"} 1") != std::string::npos);
}

TEST_CASE("printer: a USB printer device file (/dev/usb/lp0 style) prints the ticket") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  auto sim = EscposPrinter::on_pty(dir / "lp0");  // opened and written as a plain device file
  AgentProcess agent(dir, {}, printer_config(scale.path(), sim->address(), true, "usb"));
  const auto seq = capture(agent.http, "cap-1");
  REQUIRE(printed(*sim, 1, dir));
  CHECK(sim->jobs().at(0).find("st-1/" + std::to_string(seq)) != std::string::npos);
  CHECK(
      eventually([&] { return job_state(agent.http, std::to_string(seq) + "-1") == "done"; }, 10s));
  CHECK(sim->jobs().size() == 1);
}

TEST_CASE("printer: a reprint says DUPLICATE; a retried request prints nothing more (TCP 9100)") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("18000"));
  auto sim = EscposPrinter::on_tcp();
  AgentProcess agent(dir, {}, printer_config(scale.path(), sim->address(), false));
  const auto seq = capture(agent.http, "cap-1");
  const auto body = R"({"seq":)" + std::to_string(seq) + R"(,"operator":"amina"})";
  auto first = post_json(agent.http, "/v1/printers/tp/print", "p-1", body);
  REQUIRE_MESSAGE(first.status == 202, first.body);
  CHECK(body_of(first).at("job").at("copy") == "original");
  REQUIRE(printed(*sim, 1, dir));
  // The tickets' own print route shares the numbering: its print is number 2.
  auto pdf = post_json(agent.http, "/v1/tickets/" + std::to_string(seq) + "/print", "t-1",
                       R"({"format":"pdf"})");
  REQUIRE_MESSAGE(pdf.status == 202, pdf.body);
  CHECK(body_of(pdf).at("print_number") == 2);
  auto again = post_json(agent.http, "/v1/printers/tp/print", "p-2", body);
  REQUIRE_MESSAGE(again.status == 202, again.body);
  const auto job = std::string(body_of(again).at("job").at("id").as_string());
  CHECK(job == std::to_string(seq) + "-3");
  REQUIRE(printed(*sim, 2, dir));
  const auto dup = sim->jobs().at(1);
  CHECK(dup.find("\x1d"
                 "B"
                 "\x01") != std::string::npos);  // reversed
  CHECK(dup.find("DUPLICATE #3") != std::string::npos);
  CHECK(dup.find("ORIGINAL") == std::string::npos);
  // The same key again: the same job, answered as a replay, nothing printed.
  auto retry = post_json(agent.http, "/v1/printers/tp/print", "p-2", body);
  CHECK(retry.status == 200);
  CHECK(body_of(retry).at("job").at("id") == json::value(job));
  CHECK(eventually([&] { return job_state(agent.http, job) == "done"; }, 10s));
  CHECK(sim->jobs().size() == 2);
  // Another body with a used key is refused; an unknown printer or weighing is a 404.
  const auto other = R"({"seq":)" + std::to_string(seq) + R"(,"operator":"baraka"})";
  CHECK(post_json(agent.http, "/v1/printers/tp/print", "p-2", other).status == 422);
  CHECK(post_json(agent.http, "/v1/printers/nope/print", "p-3", body).status == 404);
  CHECK(post_json(agent.http, "/v1/printers/tp/print", "p-4", R"({"seq":999})").status == 404);
  CHECK(post_json(agent.http, "/v1/printers/tp/print", "p-5", R"({"seq":"x"})").status == 400);
}

TEST_CASE("printer: absent at start, the capture is answered and the job prints once it is on") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  const auto free = split_host_port(free_loopback_address());
  auto sim = EscposPrinter::on_tcp(free.second, /*plugged=*/false);
  AgentProcess agent(dir, {}, printer_config(scale.path(), sim->address(), true));
  const auto seq = capture(agent.http, "cap-1");  // answered without waiting for the printer
  const auto job = std::to_string(seq) + "-1";
  CHECK(eventually([&] { return job_state(agent.http, job) == "queued"; }, 10s));
  CHECK(device_state(agent.http) == "offline");
  CHECK(printer(agent.http).at("pending_jobs") == 1);
  sim->plug();
  REQUIRE(printed(*sim, 1, dir));
  CHECK(eventually([&] { return job_state(agent.http, job) == "done"; }, 10s));
  CHECK(device_state(agent.http) == "ok");
  CHECK(sim->jobs().size() == 1);
  CHECK(sim->jobs().at(0).find("ORIGINAL #1") != std::string::npos);
}

TEST_CASE("printer: out of paper keeps the job; paper loaded, it prints exactly once") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  auto sim = EscposPrinter::on_pty(dir / "printer");
  sim->set_mode(EscposPrinter::Mode::paper_out);
  AgentProcess agent(dir, {}, printer_config(scale.path(), sim->address(), true));
  CHECK(eventually([&] { return device_state(agent.http) == "error"; }, 10s));
  const auto seq = capture(agent.http, "cap-1");
  const auto job = std::to_string(seq) + "-1";
  CHECK(eventually([&] { return job_state(agent.http, job) == "queued"; }, 10s));
  CHECK(printer(agent.http).at("detail") == "paper out");
  sim->set_mode(EscposPrinter::Mode::ok);
  REQUIRE(printed(*sim, 1, dir));
  CHECK(eventually([&] { return job_state(agent.http, job) == "done"; }, 10s));
  CHECK(sim->jobs().size() == 1);
  CHECK(sim->lost_jobs() == 0);
}

TEST_CASE("printer: offline (no status answer) then back: the job prints once") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  auto sim = EscposPrinter::on_pty(dir / "printer");
  AgentProcess agent(dir, {}, printer_config(scale.path(), sim->address(), true));
  CHECK(eventually([&] { return device_state(agent.http) == "ok"; }, 10s));
  sim->set_mode(EscposPrinter::Mode::silent);
  CHECK(eventually([&] { return device_state(agent.http) == "offline"; }, 10s));
  const auto seq = capture(agent.http, "cap-1");
  const auto job = std::to_string(seq) + "-1";
  CHECK(eventually([&] { return job_state(agent.http, job) == "queued"; }, 10s));
  sim->set_mode(EscposPrinter::Mode::ok);
  REQUIRE(printed(*sim, 1, dir));
  CHECK(eventually([&] { return job_state(agent.http, job) == "done"; }, 10s));
  CHECK(sim->jobs().size() == 1);
  CHECK(sim->lost_jobs() == 0);
}

TEST_CASE("printer: a waiting job is cancelled and never printed") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  auto sim = EscposPrinter::on_pty(dir / "printer");
  sim->set_mode(EscposPrinter::Mode::cover_open);
  AgentProcess agent(dir, {}, printer_config(scale.path(), sim->address(), true));
  const auto seq = capture(agent.http, "cap-1");
  const auto job = std::to_string(seq) + "-1";
  CHECK(eventually([&] { return job_state(agent.http, job) == "queued"; }, 10s));
  CHECK(eventually([&] { return printer(agent.http).at("detail") == "cover open"; }, 10s));
  auto c = post_json(agent.http, "/v1/printers/tp/jobs/" + job + "/cancel", "", "{}");
  REQUIRE_MESSAGE(c.status == 200, c.body);
  CHECK(body_of(c).at("job").at("state") == "cancelled");
  CHECK(post_json(agent.http, "/v1/printers/tp/jobs/9-9/cancel", "", "{}").status == 404);
  sim->set_mode(EscposPrinter::Mode::ok);
  // A later job goes after the cancelled one in the queue: once it printed, the cancelled one
  // would have been before it.
  auto r = post_json(agent.http, "/v1/printers/tp/print", "p-1",
                     R"({"seq":)" + std::to_string(seq) + "}");
  REQUIRE_MESSAGE(r.status == 202, r.body);
  REQUIRE(printed(*sim, 1, dir));
  CHECK(
      eventually([&] { return job_state(agent.http, std::to_string(seq) + "-2") == "done"; }, 10s));
  CHECK(sim->jobs().size() == 1);
  CHECK(sim->jobs().at(0).find("DUPLICATE #2") != std::string::npos);
  CHECK(job_state(agent.http, job) == "cancelled");
}

TEST_CASE("printer: a CUPS queue gets the ticket as a PDF that pdftotext reads") {
  if (const auto why = CupsServer::unavailable(); !why.empty()) {
    MESSAGE("skipped: " << why);
    return;
  }
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  CupsServer cups;
  const auto config = "printers:\n  - {id: tp, type: cups, queue: " + cups.queue() + ", server: '" +
                      cups.address() +
                      "', auto_print: true, poll_interval_ms: 200}\n"
                      "scales:\n  - {id: main, source: 'serial:" +
                      scale.path() + "', protocol: mt-continuous}\n";
  AgentProcess agent(dir, {}, config);
  const auto seq = capture(agent.http, "cap-1");
  const auto job = std::to_string(seq) + "-1";
  const bool done = eventually([&] { return job_state(agent.http, job) == "done"; }, 30s);
  if (!done) MESSAGE(read_file(dir / "agent.log") << "\n" << cups.log());
  REQUIRE(done);
  REQUIRE(std::filesystem::exists(cups.output()));
  const auto text = run_split({"pdftotext", "-layout", cups.output().string(), "-"});
  REQUIRE_MESSAGE(text.exit_code == 0, text.err);
  CHECK(text.out.find("st-1/" + std::to_string(seq)) != std::string::npos);
  CHECK(text.out.find("ORIGINAL") != std::string::npos);
  CHECK(text.out.find("32540 kg") != std::string::npos);
  CHECK(device_state(agent.http) == "ok");
}

TEST_CASE("printer: a waiting job survives a restart of the agent and prints once after it") {
  TempDir dir("wl-printer");
  PtyScale scale(dir / "scale");
  StreamingScale indicator(scale, mt_frame("32540"));
  const auto free = split_host_port(free_loopback_address());
  auto sim = EscposPrinter::on_tcp(free.second, /*plugged=*/false);
  const auto config = printer_config(scale.path(), sim->address(), true);
  auto agent = std::make_unique<AgentProcess>(dir, std::vector<std::string>{}, config);
  const auto seq = capture(agent->http, "cap-1");
  const auto job = std::to_string(seq) + "-1";
  CHECK(eventually([&] { return job_state(agent->http, job) == "queued"; }, 10s));
  CHECK(agent->process->terminate() == 0);
  agent = std::make_unique<AgentProcess>(dir, std::vector<std::string>{}, config);
  CHECK(job_state(agent->http, job) == "queued");  // read back from the outbox's state
  sim->plug();
  REQUIRE(printed(*sim, 1, dir));
  CHECK(eventually([&] { return job_state(agent->http, job) == "done"; }, 10s));
  CHECK(sim->jobs().size() == 1);
  CHECK(sim->jobs().at(0).find("ORIGINAL #1") != std::string::npos);
}
