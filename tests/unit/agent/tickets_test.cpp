// The tickets' pure parts: the model from a payload, the PDF writer, the recent weighings' query.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <regex>

#include "weighlink/agent/ticket.hpp"
#include "weighlink/agent/weighings.hpp"
#include "weighlink/record/exact_json.hpp"

namespace json = boost::json;
using namespace weighlink::agent;

namespace {

json::object payload(std::string_view text) {
  auto parsed = weighlink::record::parse_exact(text);
  REQUIRE(!parsed.refusal);
  return parsed.value.as_object();
}

std::string field(const Ticket& t, const std::string& id) {
  for (const auto& r : t.fields) {
    if (r.id == id) return r.label + "=" + r.value;
  }
  for (const auto& r : t.weights) {
    if (r.id == id) return r.label + "=" + r.value;
  }
  for (const auto& r : t.legal) {
    if (r.id == id) return r.label + "=" + r.value;
  }
  return "(none)";
}

Ticket ticket_of(const json::object& p, std::uint64_t print = 1, std::string_view lang = "en",
                 const TicketConfig& layout = {}) {
  const TicketInput in{42, "kenya-athi-1", std::string(64, 'a') + "b", &p};
  return build_ticket(in, layout, lang, TicketPrint{print});
}

// A minimal baseline JPEG header: SOI, an APP0 segment, SOF0 of 2x3 pixels, 3 components.
std::string tiny_jpeg() {
  const unsigned char bytes[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0,
                                 0x00, 0x11, 0x08, 0x00, 0x03, 0x00, 0x02, 0x03, 0x01, 0x11,
                                 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

// Every xref entry points at "N 0 obj" for its object N, and startxref at the table.
void check_xref(const std::string& pdf) {
  const auto startxref = pdf.rfind("startxref\n");
  REQUIRE(startxref != std::string::npos);
  const auto xref = std::stoul(pdf.substr(startxref + 10));
  REQUIRE(pdf.compare(xref, 5, "xref\n") == 0);
  const std::regex header(R"(xref\n0 (\d+)\n)");
  std::smatch m;
  const std::string tail = pdf.substr(xref);
  REQUIRE(std::regex_search(tail, m, header));
  const auto count = std::stoul(m[1]);
  std::size_t at = xref + m.length(0) + 20;  // after the free entry
  for (std::size_t n = 1; n < count; ++n, at += 20) {
    const auto offset = std::stoul(pdf.substr(at, 10));
    CHECK(pdf.compare(at + 10, 10, " 00000 n \n") == 0);
    const auto obj = std::to_string(n) + " 0 obj\n";
    CHECK_MESSAGE(pdf.compare(offset, obj.size(), obj) == 0, "object ", n);
  }
  CHECK(pdf.ends_with("%%EOF\n"));
}

}  // namespace

TEST_CASE("ticket: a static weighing from before issue 19 shows its weight, record id and hash") {
  const auto p =
      payload(R"({"station_id":"kenya-athi-1","type":"static","scale":"main","weight":"32540.10",)"
              R"("unit":"kg","operator":"","captured_at":"2026-12-07T08:00:00.000Z"})");
  const auto t = ticket_of(p);
  CHECK(t.record_id == "kenya-athi-1/42");
  CHECK(field(t, "record_id") == "Record=kenya-athi-1/42");
  CHECK(field(t, "weight") == "Weight=32540.10 kg");
  CHECK(field(t, "captured_at") == "Date and time (UTC)=2026-12-07T08:00:00.000Z");
  CHECK(field(t, "operator") == "(none)");  // empty values are left out
  CHECK(t.hash_prefix == std::string(16, 'a'));
  CHECK(t.software.empty());
  CHECK(!t.audit_counter);
  CHECK(t.copy == "original");
  CHECK(t.copy_label == "ORIGINAL");
  CHECK(t.parts_kind.empty());
}

TEST_CASE("ticket: a closed two-pass transaction shows first, gross, tare and net as recorded") {
  const auto p = payload(
      R"({"type":"static","scale":"main","weight":"14200","unit":"kg","operator":"amina",)"
      R"("captured_at":"2026-12-07T09:00:00.000Z","audit_counter":7,)"
      R"("software":{"name":"weighlink-agent","version":"0.1.0","sha256":")" +
      std::string(64, 'c') +
      R"("},"reference":{"plate":"KBX123A","customer":"Mombasa Cement","ticket":17},)"
      R"("transaction":{"id":"kenya-athi-1-T3","mode":"two_pass","pass":2,"gross":"40200.5",)"
      R"("tare":"14200","net":"26000.5","unit":"kg","first":{"seq":40,"weight":"40200.5"}}})");
  const auto t = ticket_of(p, 2, "sw");
  CHECK(field(t, "plate") == "Namba ya gari=KBX123A");
  CHECK(field(t, "reference.customer") == "Mteja=Mombasa Cement");
  CHECK(field(t, "reference.ticket") == "Tiketi=17");
  CHECK(field(t, "transaction") == "Muamala=kenya-athi-1-T3 (Mara mbili, Mzunguko 2)");
  CHECK(field(t, "first") == "Upimaji wa kwanza=40200.5 kg");
  CHECK(field(t, "gross") == "Uzito jumla=40200.5 kg");
  CHECK(field(t, "tare") == "Uzito wa gari tupu=14200 kg");
  CHECK(field(t, "net") == "Uzito halisi=26000.5 kg");
  CHECK(field(t, "weight") == "(none)");
  CHECK(t.software == "weighlink-agent 0.1.0 sha256:" + std::string(16, 'c'));
  CHECK(t.audit_counter == 7);
  CHECK(t.copy == "duplicate");
  CHECK(t.copy_label == "NAKALA");
  CHECK(t.print_number == 2);
}

TEST_CASE("ticket: a one-pass weighing with a stored tare names the tare it used") {
  const auto p =
      payload(R"({"type":"static","weight":"40200","unit":"kg","reference":{"plate":"KBX123A"},)"
              R"("transaction":{"id":"st-T9","mode":"stored_tare","pass":1,"gross":"40200",)"
              R"("tare":"14180.0","net":"26020.0","unit":"kg","stored_tare":{"weight":"14180.0",)"
              R"("unit":"kg","seq":12,"captured_at":"2026-11-30T07:00:00.000Z"}}})");
  const auto t = ticket_of(p);
  CHECK(field(t, "transaction") == "Transaction=st-T9 (Stored tare, Pass 1)");
  CHECK(field(t, "stored_tare") == "Stored tare=14180.0 kg");
  CHECK(field(t, "net") == "Net=26020.0 kg");
  CHECK(field(t, "first") == "(none)");
}

TEST_CASE("ticket: the layout orders the fields; axles become a table") {
  const auto p =
      payload(R"({"type":"axle","scale":"pad","weight":"19000","unit":"kg","operator":"juma",)"
              R"("reference":{"plate":"KCA 9","product":"Clinker","driver":"Otieno"},)"
              R"("axles":[{"number":1,"weight":"7000"},{"number":2,"weight":"12000"}]})");
  TicketConfig layout;
  layout.fields = {"driver", "plate", "reference", "type"};
  const auto t = ticket_of(p, 1, "en", layout);
  REQUIRE(t.fields.size() == 4);
  CHECK(t.fields[0].value == "Otieno");
  CHECK(t.fields[1].value == "KCA 9");
  CHECK(t.fields[2].id == "reference.product");  // the rest of the reference, not driver again
  CHECK(t.fields[3].value == "Axle by axle");
  CHECK(t.parts_kind == "axles");
  CHECK(t.parts_rows == std::vector<std::vector<std::string>>{{"1", "7000 kg"}, {"2", "12000 kg"}});
  const auto j = to_json(t);
  CHECK(j.at("parts").at("kind") == "axles");
  CHECK(j.at("record_id") == "kenya-athi-1/42");
}

TEST_CASE("ticket pdf: a valid PDF 1.4 whose offsets are right, text escaped, WinAnsi kept") {
  const auto p = payload(
      R"({"type":"static","weight":"32540.10","unit":"kg",)"
      R"("reference":{"plate":"KBX123A","customer":"Caf\u00e9 (Nairobi) \\ \u20ac \u4e2d"}})");
  auto t = ticket_of(p, 2);
  const auto pdf = ticket_pdf(t, {});
  CHECK(pdf.starts_with("%PDF-1.4\n"));
  check_xref(pdf);
  CHECK(pdf.find("/BaseFont /Helvetica /Encoding /WinAnsiEncoding") != std::string::npos);
  CHECK(pdf.find("(32540.10 kg)") != std::string::npos);
  CHECK(pdf.find("(DUPLICATE  \\(2\\))") != std::string::npos);
  // é is WinAnsi 0xE9, € 0x80; the CJK character has no WinAnsi code and shows as '?'.
  CHECK(pdf.find("(Caf\\351 \\(Nairobi\\) \\\\ \\200 ?)") != std::string::npos);
  CHECK(pdf.find("/DCTDecode") == std::string::npos);
}

TEST_CASE("ticket pdf: the logo goes in as a DCTDecode image; a long A4 ticket takes pages") {
  std::string axles;
  for (int i = 1; i <= 64; ++i) {
    axles += (i > 1 ? "," : "") + std::string(R"({"number":)") + std::to_string(i) +
             R"(,"weight":"1000"})";
  }
  const auto p = payload(R"({"type":"axle","weight":"64000","unit":"kg","axles":[)" + axles + "]}");
  const auto logo = tiny_jpeg();
  CHECK(is_usable_jpeg(logo));
  CHECK(!is_usable_jpeg("GIF89a"));
  const auto pdf = ticket_pdf(ticket_of(p), logo);
  check_xref(pdf);
  CHECK(pdf.find("/Filter /DCTDecode /Length " + std::to_string(logo.size())) != std::string::npos);
  CHECK(pdf.find("/Width 2 /Height 3 /ColorSpace /DeviceRGB") != std::string::npos);
  CHECK(pdf.find(logo) != std::string::npos);
  CHECK(pdf.find("/Count 2") != std::string::npos);
  TicketConfig roll;
  roll.paper = "80mm";
  const auto receipt = ticket_pdf(ticket_of(p, 1, "en", roll), {});
  check_xref(receipt);
  CHECK(receipt.find("/Count 1") != std::string::npos);
  CHECK(receipt.find("/MediaBox [0 0 226.77 ") != std::string::npos);
}

TEST_CASE("weighings query: plates are normalized, dates and times become captured_at bounds") {
  CHECK(normalize_plate("kbx 123-a") == "KBX123A");
  CHECK(!normalize_plate("KBX/123"));
  CHECK(!normalize_plate(" - "));
  CHECK(!normalize_plate(std::string(17, 'A')));
  auto q = std::get<weighlink::sync::WeighingQuery>(parse_weighings_query({{"plate", "kbx 123-a"},
                                                                           {"q", "cement"},
                                                                           {"from", "2026-12-07"},
                                                                           {"to", "2026-12-07"},
                                                                           {"state", "dead"},
                                                                           {"limit", "10"},
                                                                           {"before", "99"},
                                                                           {"lang", ""}}));
  CHECK(q.plate == "KBX123A");
  CHECK(q.text == "cement");
  CHECK(q.captured_from == "2026-12-07T00:00:00.000Z");
  CHECK(q.captured_before == "2026-12-08T00:00:00.000Z");
  CHECK(q.states.size() == 2);
  CHECK(q.limit == 10);
  CHECK(q.before_seq == 99);
  q = std::get<weighlink::sync::WeighingQuery>(parse_weighings_query(
      {{"from", "2026-12-07T11:00:00.0005+03:00"}, {"to", "2026-12-07T08:30:00Z"}}));
  CHECK(q.captured_from == "2026-12-07T08:00:00.001Z");
  CHECK(q.captured_before == "2026-12-07T08:30:00.001Z");
  CHECK(q.limit == kWeighingsDefaultLimit);
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"plate", "KBX/1"},
                                                        {"from", "yesterday"},
                                                        {"state", "pending"},
                                                        {"limit", "0"},
                                                        {"limit", "201"},
                                                        {"before", "x"},
                                                        {"colour", "red"}}) {
    const auto r = parse_weighings_query({{name, value}});
    REQUIRE(std::holds_alternative<QueryRefusal>(r));
    CHECK(std::get<QueryRefusal>(r).parameter == name);
  }
}
