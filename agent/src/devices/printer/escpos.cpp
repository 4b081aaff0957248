// The ticket as ESC/POS bytes (escpos.hpp). Every command is written out as its bytes, named in
// a comment, so the encoder reads like the printer's manual; tests compare byte for byte.
#include "weighlink/agent/printer/escpos.hpp"

#include <array>

namespace weighlink::agent::printer {
namespace {

// PC858's upper half (0x80..0xFF) as Unicode code points.
constexpr std::array<char32_t, 128> kPc858 = {
    0xc7,   0xfc,   0xe9,   0xe2,   0xe4,   0xe0,   0xe5,   0xe7,   0xea,   0xeb,   0xe8,   0xef,
    0xee,   0xec,   0xc4,   0xc5,   0xc9,   0xe6,   0xc6,   0xf4,   0xf6,   0xf2,   0xfb,   0xf9,
    0xff,   0xd6,   0xdc,   0xf8,   0xa3,   0xd8,   0xd7,   0x192,  0xe1,   0xed,   0xf3,   0xfa,
    0xf1,   0xd1,   0xaa,   0xba,   0xbf,   0xae,   0xac,   0xbd,   0xbc,   0xa1,   0xab,   0xbb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0xc1,   0xc2,   0xc0,   0xa9,   0x2563, 0x2551, 0x2557,
    0x255d, 0xa2,   0xa5,   0x2510, 0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0xe3,   0xc3,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0xa4,   0xf0,   0xd0,   0xca,   0xcb,
    0xc8,   0x20ac, 0xcd,   0xce,   0xcf,   0x2518, 0x250c, 0x2588, 0x2584, 0xa6,   0xcc,   0x2580,
    0xd3,   0xdf,   0xd4,   0xd2,   0xf5,   0xd5,   0xb5,   0xfe,   0xde,   0xda,   0xdb,   0xd9,
    0xfd,   0xdd,   0xaf,   0xb4,   0xad,   0xb1,   0x2017, 0xbe,   0xb6,   0xa7,   0xf7,   0xb8,
    0xb0,   0xa8,   0xb7,   0xb9,   0xb3,   0xb2,   0x25a0, 0xa0};

char pc858_of(char32_t cp) {
  if (cp >= 0x20 && cp < 0x7F) return static_cast<char>(cp);
  for (std::size_t i = 0; i < kPc858.size(); ++i) {
    if (kPc858[i] == cp) return static_cast<char>(0x80 + i);
  }
  return '?';
}

// The width of a PC858 string in characters (one byte each).
int width(const std::string& s) { return static_cast<int>(s.size()); }

class Writer {
 public:
  explicit Writer(int columns) : columns_(columns) {}
  void raw(std::string_view bytes) { out_.append(bytes); }
  void line(const std::string& text) { out_ += to_pc858(text) + "\n"; }
  void align(char n) { raw(std::string{"\x1b\x61", 2} + n); }                          // ESC a n
  void bold(bool on) { raw(std::string{"\x1b\x45", 2} + (on ? '\x01' : '\x00')); }     // ESC E n
  void size(char n) { raw(std::string{"\x1d\x21", 2} + n); }                           // GS ! n
  void reverse(bool on) { raw(std::string{"\x1d\x42", 2} + (on ? '\x01' : '\x00')); }  // GS B n
  void rule() { out_ += std::string(static_cast<std::size_t>(columns_), '-') + "\n"; }
  // "label      value" on one line; a pair too long for it: the label, then the value right.
  void row(const std::string& label, const std::string& value) {
    const auto l = to_pc858(label);
    const auto v = to_pc858(value);
    if (width(l) + 1 + width(v) <= columns_) {
      out_ +=
          l + std::string(static_cast<std::size_t>(columns_ - width(l) - width(v)), ' ') + v + "\n";
      return;
    }
    out_ += l + "\n";
    for (std::size_t at = 0; at < v.size(); at += static_cast<std::size_t>(columns_)) {
      const auto part = v.substr(at, static_cast<std::size_t>(columns_));
      out_ += std::string(static_cast<std::size_t>(columns_ - width(part)), ' ') + part + "\n";
    }
  }
  // GS ( k: model 2, module size 6, error correction M, store the data, print it.
  void qr(const std::string& data) {
    raw(std::string{"\x1d\x28\x6b\x04\x00\x31\x41\x32\x00", 9});  // fn 165: model 2
    raw(std::string{"\x1d\x28\x6b\x03\x00\x31\x43\x06", 8});      // fn 167: module size 6
    raw(std::string{"\x1d\x28\x6b\x03\x00\x31\x45\x31", 8});      // fn 169: level M
    const auto n = data.size() + 3;
    raw(std::string{"\x1d\x28\x6b", 3});  // fn 180: store pL pH 49 80 48 data
    out_ += static_cast<char>(n & 0xFF);
    out_ += static_cast<char>((n >> 8) & 0xFF);
    raw(std::string{"\x31\x50\x30", 3});
    raw(data);
    raw(std::string{"\x1d\x28\x6b\x03\x00\x31\x51\x30", 8});  // fn 181: print
    out_ += "\n";
  }
  std::string take() { return std::move(out_); }

 private:
  int columns_;
  std::string out_;
};

}  // namespace

int escpos_columns(std::string_view paper) { return paper == "58mm" ? 32 : 48; }

std::string to_pc858(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    std::size_t n = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      n = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      n = 4;
    } else {
      cp = 0xFFFD;  // a stray continuation byte
    }
    if (i + n > s.size()) n = s.size() - i, cp = 0xFFFD;
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        n = k;
        cp = 0xFFFD;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    i += n;
    if (cp < 0x20 || cp == 0x7F) continue;
    out += pc858_of(cp);
  }
  return out;
}

std::string escpos_ticket(const Ticket& t, const EscposLayout& layout) {
  Writer w(layout.columns);
  w.raw(std::string{"\x1b\x40", 2});      // ESC @: initialise
  w.raw(std::string{"\x1b\x74\x13", 3});  // ESC t 19: code page PC858
  w.align('\x01');                        // centred
  for (const auto& h : t.header) w.line(h);
  w.bold(true);
  w.size('\x01');  // double height
  w.line(t.title);
  w.size('\x00');
  w.bold(false);
  const auto mark =
      t.copy_label + (t.print_number > 0 ? " #" + std::to_string(t.print_number) : "");
  if (t.copy == "duplicate") {
    w.reverse(true);
    w.size('\x11');  // double width and height
    w.line(" " + mark + " ");
    w.size('\x00');
    w.reverse(false);
  } else {
    w.line(mark);
  }
  w.align('\x00');
  w.rule();
  for (const auto& f : t.fields) w.row(f.label, f.value);
  w.rule();
  w.bold(true);
  for (const auto& f : t.weights) w.row(f.label, f.value);
  w.bold(false);
  if (!t.parts_rows.empty() && t.parts_columns.size() >= 2) {
    w.rule();
    w.row(t.parts_columns[0], t.parts_columns[1]);
    for (const auto& r : t.parts_rows) {
      if (r.size() >= 2) w.row(r[0], r[1]);
    }
  }
  w.rule();
  w.row(ticket_label("ticket.record_id", t.language).value_or("Record"), t.record_id);
  for (const auto& f : t.legal) w.row(f.label, f.value);
  if (layout.qr) {
    w.align('\x01');
    w.qr(t.record_id);
    w.align('\x00');
  }
  if (!t.footer.empty()) {
    w.align('\x01');
    for (const auto& f : t.footer) w.line(f);
    w.align('\x00');
  }
  if (t.copy == "duplicate") {
    w.align('\x01');
    w.bold(true);
    w.line(mark);
    w.bold(false);
    w.align('\x00');
  }
  w.raw(std::string{"\x1b\x64\x04", 3});      // ESC d 4: feed four lines
  w.raw(std::string{"\x1d\x56\x42\x00", 4});  // GS V 66 0: feed to the cutter, partial cut
  return w.take();
}

PrinterStatus decode_status(std::uint8_t printer, std::uint8_t cause, std::uint8_t paper) {
  PrinterStatus s;
  s.paper_near_end = (paper & 0x0C) != 0;
  if ((paper & 0x60) != 0 || (cause & 0x20) != 0) {
    s.state = PrinterState::error;
    s.detail = "paper out";
  } else if ((cause & 0x04) != 0) {
    s.state = PrinterState::error;
    s.detail = "cover open";
  } else if ((cause & 0x40) != 0) {
    s.state = PrinterState::error;
    s.detail = "printer error (cutter or head)";
  } else if ((printer & 0x08) != 0) {
    s.state = PrinterState::offline;
    s.detail = "offline";
  } else if (s.paper_near_end) {
    s.detail = "paper near end";
  }
  return s;
}

std::string_view to_string(PrinterState state) {
  switch (state) {
    case PrinterState::offline:
      return "offline";
    case PrinterState::error:
      return "error";
    case PrinterState::ok:
      break;
  }
  return "ok";
}

}  // namespace weighlink::agent::printer
