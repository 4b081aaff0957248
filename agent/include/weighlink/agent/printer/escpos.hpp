#pragma once
// ESC/POS (Epson's receipt printer language, spoken by nearly every thermal ticket printer): the
// ticket model as the bytes a printer prints, and its real-time status answers (DLE EOT n).
// Pure functions: no I/O, no clock. Threading: safe from any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "weighlink/agent/ticket.hpp"

namespace weighlink::agent::printer {

struct EscposLayout {
  int columns = 48;  // 80mm paper: 48 characters of font A; 58mm: 32
  bool qr = true;    // a QR code of the record id under the rows
};

// The characters per line of a paper width ("80mm" | "58mm").
[[nodiscard]] int escpos_columns(std::string_view paper);

// UTF-8 text as code page PC858 (ESC t 19: Latin-1's letters and the euro sign); a character the
// page lacks becomes '?', control characters are dropped.
[[nodiscard]] std::string to_pc858(std::string_view utf8);

// The whole job: ESC @, code page, the header, the title (bold, double height), the copy mark
// (a reprint: DUPLICATE reversed and double size), label/value rows, the weights as recorded
// (bold), decks or axles, the record id and hash prefix, the QR code (GS ( k), the footer, feed
// and cut (GS V).
[[nodiscard]] std::string escpos_ticket(const Ticket& ticket, const EscposLayout& layout);

// DLE EOT n: the real-time status queries (n = 1 printer, 2 offline cause, 4 roll paper).
inline constexpr std::string_view kStatusPrinter{"\x10\x04\x01", 3};
inline constexpr std::string_view kStatusOffline{"\x10\x04\x02", 3};
inline constexpr std::string_view kStatusPaper{"\x10\x04\x04", 3};

// True for a byte shaped as a DLE EOT answer (bits 1 and 4 set, 0 and 7 clear).
[[nodiscard]] constexpr bool is_status_byte(std::uint8_t b) { return (b & 0x93) == 0x12; }

enum class PrinterState { ok, offline, error };

struct PrinterStatus {
  PrinterState state = PrinterState::ok;
  std::string detail;           // "paper out", "cover open", "offline", "no answer", ...
  bool paper_near_end = false;  // still prints; reported
};

// The three answers as the operator sees them: paper end and cover open are errors (the printer
// answers but cannot print), the offline bit alone is offline.
[[nodiscard]] PrinterStatus decode_status(std::uint8_t printer, std::uint8_t offline_cause,
                                          std::uint8_t paper);

[[nodiscard]] std::string_view to_string(PrinterState state);

}  // namespace weighlink::agent::printer
