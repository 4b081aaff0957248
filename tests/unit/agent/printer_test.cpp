// The ticket printers' pure parts: the ESC/POS bytes of a ticket, the DLE EOT status answers,
// the job queue's states (the printers: section's checks are in config_test.cpp).
#include <doctest/doctest.h>

#include "weighlink/agent/printer/escpos.hpp"
#include "weighlink/agent/printer/print_queue.hpp"

using namespace std::string_literals;
using namespace weighlink::agent;
using namespace weighlink::agent::printer;

namespace {

Ticket small_ticket(std::uint64_t print) {
  Ticket t;
  t.seq = 7;
  t.record_id = "st/7";
  t.language = "en";
  t.title = "WEIGHING TICKET";
  t.header = {"Athi River"};
  t.fields = {{"plate", "Plate", "KBX 123A"}};
  t.weights = {{"net", "Net", "12340 kg"}};
  t.legal = {{"hash", "Record hash", "0123456789abcdef"}};
  t.hash_prefix = "0123456789abcdef";
  t.print_number = print;
  t.copy = print <= 1 ? "original" : "duplicate";
  t.copy_label = print <= 1 ? "ORIGINAL" : "DUPLICATE";
  return t;
}

const std::string kRule32 = std::string(32, '-') + "\n";

}  // namespace

TEST_CASE("escpos: an original ticket on 58mm paper, byte for byte") {
  const auto bytes = escpos_ticket(small_ticket(1), {32, false});
  const std::string expected =
      "\x1b"
      "@"  // ESC @
      "\x1b"
      "t"
      "\x13"  // ESC t 19: PC858
      "\x1b"
      "a"
      "\x01"s +  // centred
      "Athi River\n"
      "\x1b"
      "E"
      "\x01"  // bold
      "\x1d"
      "!"
      "\x01"s +  // double height
      "WEIGHING TICKET\n"
      "\x1d"
      "!"
      "\x00"
      "\x1b"
      "E"
      "\x00"s +
      "ORIGINAL #1\n"
      "\x1b"
      "a"
      "\x00"s +
      kRule32 + "Plate" + std::string(19, ' ') + "KBX 123A\n" + kRule32 +
      "\x1b"
      "E"
      "\x01"s +
      "Net" + std::string(21, ' ') + "12340 kg\n" +
      "\x1b"
      "E"
      "\x00"s +
      kRule32 + "Record" + std::string(22, ' ') + "st/7\n" + "Record hash" + std::string(5, ' ') +
      "0123456789abcdef\n" +
      "\x1b"
      "d"
      "\x04"  // feed 4 lines
      "\x1d"
      "V"
      "\x42"
      "\x00"s;  // partial cut
  CHECK(bytes == expected);
}

TEST_CASE("escpos: a reprint says DUPLICATE reversed at the top and again at the end") {
  const auto bytes = escpos_ticket(small_ticket(2), {48, false});
  const auto top =
      "\x1d"
      "B"
      "\x01"
      "\x1d"
      "!"
      "\x11"s +
      " DUPLICATE #2 \n" +
      "\x1d"
      "!"
      "\x00"
      "\x1d"
      "B"
      "\x00"s;
  CHECK(bytes.find(top) != std::string::npos);
  CHECK(bytes.find("ORIGINAL") == std::string::npos);
  const auto end =
      "\x1b"
      "E"
      "\x01"s +
      "DUPLICATE #2\n";
  CHECK(bytes.rfind(end) > bytes.find(top));
  CHECK(bytes.find(std::string(48, '-') + "\n") != std::string::npos);
}

TEST_CASE("escpos: the QR code of the record id through GS ( k") {
  const auto bytes = escpos_ticket(small_ticket(1), {48, true});
  CHECK(bytes.find("\x1d"
                   "("
                   "k"
                   "\x04"
                   "\x00"
                   "1"
                   "A"
                   "2"
                   "\x00"s) != std::string::npos);
  CHECK(bytes.find("\x1d"
                   "("
                   "k"
                   "\x07"
                   "\x00"
                   "1"
                   "P"
                   "0"
                   "st/7"s) != std::string::npos);
  CHECK(bytes.find("\x1d"
                   "("
                   "k"
                   "\x03"
                   "\x00"
                   "1"
                   "Q"
                   "0"s) != std::string::npos);
  CHECK(escpos_ticket(small_ticket(1), {48, false})
            .find("\x1d"
                  "("
                  "k"s) == std::string::npos);
}

TEST_CASE("escpos: a row too long for the line puts the value under its label") {
  auto t = small_ticket(1);
  t.fields = {{"customer", "Customer", "Mombasa Cement Limited, Athi River Works"}};
  const auto bytes = escpos_ticket(t, {32, false});
  CHECK(bytes.find("Customer\nMombasa Cement Limited, Athi Riv\n" + std::string(24, ' ') +
                   "er Works\n") != std::string::npos);
  CHECK(escpos_columns("58mm") == 32);
  CHECK(escpos_columns("80mm") == 48);
}

TEST_CASE("escpos: UTF-8 text in code page PC858, what it lacks as '?'") {
  CHECK(to_pc858("Mizani \xc3\xa9 \xe2\x82\xac") == "Mizani \x82 \xd5");
  CHECK(to_pc858("a\tb\x01"
                 "c") == "abc");
  CHECK(to_pc858("\xe6\x97\xa5") == "?");
  CHECK(to_pc858("\xc3") == "?");  // cut short
}

TEST_CASE("escpos: DLE EOT answers decoded: paper out, cover open, offline, near end") {
  CHECK(is_status_byte(0x12));
  CHECK(is_status_byte(0x1A));
  CHECK_FALSE(is_status_byte(0x00));
  CHECK_FALSE(is_status_byte(0x92));
  auto s = decode_status(0x12, 0x12, 0x12);
  CHECK(s.state == PrinterState::ok);
  CHECK(s.detail.empty());
  s = decode_status(0x1A, 0x32, 0x72);
  CHECK(s.state == PrinterState::error);
  CHECK(s.detail == "paper out");
  s = decode_status(0x1A, 0x16, 0x12);
  CHECK(s.state == PrinterState::error);
  CHECK(s.detail == "cover open");
  s = decode_status(0x1A, 0x12, 0x12);
  CHECK(s.state == PrinterState::offline);
  s = decode_status(0x12, 0x12, 0x1E);
  CHECK(s.state == PrinterState::ok);
  CHECK(s.paper_near_end);
  CHECK(s.detail == "paper near end");
}

TEST_CASE("print queue: recorded, sent, failed, sent again, done") {
  PrintQueue q;
  q.add({"7-1", 7, 1, "k1", "en", "op", "auto", JobState::recording, 0, 100, 100, ""});
  CHECK(q.next() == nullptr);  // not recorded yet
  CHECK(q.pending() == 1);
  q.recorded("7-1", true, 110);
  REQUIRE(q.next() != nullptr);
  CHECK(q.next()->id == "7-1");
  CHECK(q.start("7-1", 120));
  CHECK(q.next() == nullptr);  // one at a time
  CHECK_FALSE(q.start("7-1", 121));
  q.finished("7-1", false, "paper out", 130);
  CHECK(q.find("7-1")->state == JobState::queued);
  CHECK(q.find("7-1")->detail == "paper out");
  CHECK(q.find("7-1")->attempts == 1);
  CHECK(q.start("7-1", 140));
  q.finished("7-1", true, "", 150);
  CHECK(q.find("7-1")->state == JobState::done);
  CHECK(q.find("7-1")->updated_ms == 150);
  CHECK(q.find("7-1")->attempts == 2);
  CHECK(q.pending() == 0);
  CHECK(q.next() == nullptr);
}

TEST_CASE("print queue: a refused print leaves no job; cancel only what waits") {
  PrintQueue q;
  q.add({"7-1", 7, 1, "k1", "en", "", "auto", JobState::recording, 0, 1, 1, ""});
  q.recorded("7-1", false, 2);
  CHECK(q.find("7-1") == nullptr);
  q.add({"8-1", 8, 1, "k2", "en", "", "auto", JobState::queued, 0, 1, 1, ""});
  q.add({"8-2", 8, 2, "k3", "en", "", "request", JobState::queued, 0, 1, 1, ""});
  CHECK(q.start("8-1", 3));
  CHECK(q.cancel("8-1", 4) == PrintQueue::CancelResult::printing);
  CHECK(q.cancel("8-2", 4) == PrintQueue::CancelResult::cancelled);
  CHECK(q.cancel("8-2", 5) == PrintQueue::CancelResult::finished);
  CHECK(q.cancel("9-1", 5) == PrintQueue::CancelResult::not_found);
  q.finished("8-1", true, "", 6);
  CHECK(q.next() == nullptr);  // the cancelled one is never sent
}

TEST_CASE("print queue: after a restart a job found printing is queued again") {
  PrintQueue q;
  q.add({"8-1", 8, 1, "k", "sw", "op", "auto", JobState::queued, 0, 1, 1, ""});
  CHECK(q.start("8-1", 2));
  auto stored = PrintQueue::parse(q.serialize());
  REQUIRE(stored);
  REQUIRE(stored->find("8-1") != nullptr);
  CHECK(stored->find("8-1")->state == JobState::printing);
  CHECK(stored->find("8-1")->language == "sw");
  stored->recover(10);
  CHECK(stored->find("8-1")->state == JobState::queued);
  CHECK(stored->find("8-1")->updated_ms == 10);
  CHECK_FALSE(PrintQueue::parse("{\"jobs\":[{\"id\":\"x\"}]}"));
  CHECK_FALSE(PrintQueue::parse("not json"));
}

TEST_CASE("print queue: finished jobs beyond the last 20 are forgotten, waiting ones never") {
  PrintQueue q;
  q.add({"1-1", 1, 1, "k", "en", "", "auto", JobState::queued, 0, 1, 1, ""});
  for (int i = 2; i < 30; ++i) {
    const auto id = std::to_string(i) + "-1";
    q.add({id, static_cast<std::uint64_t>(i), 1, "k", "en", "", "auto", JobState::queued, 0, 1, 1,
           ""});
    CHECK(q.cancel(id, i) == PrintQueue::CancelResult::cancelled);
  }
  CHECK(q.jobs().size() == PrintQueue::kKeepFinished + 1);
  CHECK(q.find("1-1") != nullptr);
  CHECK(q.find("2-1") == nullptr);
  CHECK(q.find("29-1") != nullptr);
}
