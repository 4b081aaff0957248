// A ticket as a PDF 1.4 document, written by hand (ISO 32000-1 read as PDF 1.4): the standard
// Helvetica fonts with WinAnsiEncoding (nothing embedded), the logo as a JPEG passed through
// unchanged (DCTDecode), one content stream per page, and a cross-reference table whose offsets
// are the bytes written. A character WinAnsi cannot show is printed as '?' (visible, never
// dropped); an A4 ticket longer than a page continues on the next; an 80 mm ticket is one page as
// long as its content (a receipt roll).
#include <cstdio>
#include <optional>

#include "weighlink/agent/ticket.hpp"

namespace weighlink::agent {
namespace {

// Unicode code points WinAnsiEncoding holds in 0x80..0x9F (the rest of Latin-1 maps to itself).
struct WinAnsiExtra {
  char32_t cp;
  unsigned char byte;
};
constexpr WinAnsiExtra kWinAnsiExtra[] = {
    {0x20AC, 0x80}, {0x201A, 0x82}, {0x0192, 0x83}, {0x201E, 0x84}, {0x2026, 0x85}, {0x2020, 0x86},
    {0x2021, 0x87}, {0x02C6, 0x88}, {0x2030, 0x89}, {0x0160, 0x8A}, {0x2039, 0x8B}, {0x0152, 0x8C},
    {0x017D, 0x8E}, {0x2018, 0x91}, {0x2019, 0x92}, {0x201C, 0x93}, {0x201D, 0x94}, {0x2022, 0x95},
    {0x2013, 0x96}, {0x2014, 0x97}, {0x02DC, 0x98}, {0x2122, 0x99}, {0x0161, 0x9A}, {0x203A, 0x9B},
    {0x0153, 0x9C}, {0x017E, 0x9E}, {0x0178, 0x9F}};

struct Jpeg {
  int width = 0, height = 0, components = 0;
};

// The frame header (SOFn) of a baseline or progressive JPEG; nullopt when there is none.
std::optional<Jpeg> jpeg_info(std::string_view b) {
  if (b.size() < 4 || static_cast<unsigned char>(b[0]) != 0xFF ||
      static_cast<unsigned char>(b[1]) != 0xD8) {
    return std::nullopt;
  }
  std::size_t i = 2;
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(b[k]); };
  while (i + 4 <= b.size()) {
    if (at(i) != 0xFF) return std::nullopt;
    const unsigned char marker = at(i + 1);
    if (marker == 0xFF) {
      ++i;
      continue;
    }
    const std::size_t len = (std::size_t{at(i + 2)} << 8) | at(i + 3);
    const bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof && i + 10 <= b.size()) {
      Jpeg j;
      j.height = (at(i + 5) << 8) | at(i + 6);
      j.width = (at(i + 7) << 8) | at(i + 8);
      j.components = at(i + 9);
      if (j.width <= 0 || j.height <= 0 ||
          (j.components != 1 && j.components != 3 && j.components != 4)) {
        return std::nullopt;
      }
      return j;
    }
    if (len < 2) return std::nullopt;
    i += 2 + len;
  }
  return std::nullopt;
}

// UTF-8 to WinAnsi bytes; what it cannot hold (and malformed UTF-8, and control characters)
// becomes '?'.
std::string to_winansi(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    std::size_t n = 0;
    if (c < 0x80) {
      cp = c, n = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F, n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F, n = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07, n = 4;
    }
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    i += n;
    if ((cp >= 0x20 && cp < 0x7F) || (cp >= 0xA0 && cp <= 0xFF)) {  // the same in WinAnsi
      out.push_back(static_cast<char>(cp));
    } else {
      char byte = '?';
      for (const auto& e : kWinAnsiExtra) {
        if (e.cp == cp) byte = static_cast<char>(e.byte);
      }
      out.push_back(byte);
    }
  }
  return out;
}

// A PDF literal string of WinAnsi bytes: ( ) \ escaped, bytes above 0x7E as octal.
std::string pdf_string(std::string_view winansi) {
  std::string out = "(";
  for (char ch : winansi) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '(' || c == ')' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c > 0x7E) {
      char oct[5];
      std::snprintf(oct, sizeof oct, "\\%03o", c);
      out += oct;
    } else {
      out.push_back(ch);
    }
  }
  return out + ")";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

struct Line {
  std::string text;  // WinAnsi
  double x = 0;
  double size = 10;
  bool bold = false;
  bool new_row = true;  // false: on the same baseline as the line before
};

struct Paper {
  double width, margin, value_x, size;
};

// Splits `text` into pieces of at most `max_chars` (Helvetica averages about half an em).
std::vector<std::string> wrap(const std::string& text, std::size_t max_chars) {
  std::vector<std::string> out;
  std::string rest = text;
  while (rest.size() > max_chars) {
    auto cut = rest.rfind(' ', max_chars);
    if (cut == std::string::npos || cut == 0) cut = max_chars;
    out.push_back(rest.substr(0, cut));
    rest = rest.substr(cut == max_chars ? cut : cut + 1);
  }
  out.push_back(rest);
  return out;
}

std::vector<Line> layout(const Ticket& t, const Paper& p) {
  std::vector<Line> lines;
  const auto chars = [&](double from_x, double size) {
    return static_cast<std::size_t>((p.width - p.margin - from_x) / (size * 0.55));
  };
  const auto text = [&](const std::string& s, double x, double size, bool bold) {
    for (auto& piece : wrap(to_winansi(s), chars(x, size))) {
      lines.push_back({std::move(piece), x, size, bold, true});
    }
  };
  const auto row = [&](const TicketRow& r, bool bold) {
    auto label = to_winansi(r.label);
    // A label wider than its column puts the value on the next line rather than over it.
    bool same = static_cast<double>(label.size()) * p.size * 0.5 < p.value_x - p.margin - 4;
    lines.push_back({std::move(label), p.margin, p.size, bold, true});
    for (auto& piece : wrap(to_winansi(r.value), chars(p.value_x, p.size))) {
      lines.push_back({std::move(piece), p.value_x, p.size, bold, !same});
      same = false;
    }
  };
  for (const auto& h : t.header) text(h, p.margin, p.size + 1, true);
  text(t.title, p.margin, p.size + 4, true);
  text(t.copy_label + (t.print_number ? "  (" + std::to_string(t.print_number) + ")" : ""),
       p.margin, p.size + (t.copy == "duplicate" ? 6 : 2), true);
  lines.push_back({"", p.margin, p.size / 2, false, true});
  for (const auto& r : t.fields) row(r, false);
  lines.push_back({"", p.margin, p.size / 2, false, true});
  for (const auto& r : t.weights) row(r, true);
  if (!t.parts_kind.empty()) {
    lines.push_back({"", p.margin, p.size / 2, false, true});
    row({"", t.parts_columns.at(0), t.parts_columns.at(1)}, true);
    for (const auto& r : t.parts_rows) row({"", r.at(0), r.at(1)}, false);
  }
  lines.push_back({"", p.margin, p.size / 2, false, true});
  for (const auto& r : t.legal) row(r, false);
  lines.push_back({"", p.margin, p.size / 2, false, true});
  for (const auto& f : t.footer) text(f, p.margin, p.size, false);
  return lines;
}

}  // namespace

bool is_usable_jpeg(std::string_view bytes) { return jpeg_info(bytes).has_value(); }

std::string ticket_pdf(const Ticket& t, std::string_view logo_jpeg,
                       const std::vector<std::string>& image_jpegs) {
  const bool roll = t.paper == "80mm";
  const Paper paper = roll ? Paper{226.77, 10, 90, 8} : Paper{595.28, 50, 220, 11};
  // A plain value, not an optional: gcc 12 for mingw-w64 warns that an engaged optional's members
  // may be uninitialized.
  const Jpeg jpeg = logo_jpeg.empty() ? Jpeg{} : jpeg_info(logo_jpeg).value_or(Jpeg{});
  const bool has_logo = jpeg.width > 0;
  double logo_w = 0, logo_h = 0;
  if (has_logo) {
    logo_h = roll ? 40 : 60;
    logo_w = logo_h * jpeg.width / jpeg.height;
    const double max_w = paper.width - 2 * paper.margin;
    if (logo_w > max_w) logo_h = logo_h * max_w / logo_w, logo_w = max_w;
  }
  const auto lines = layout(t, paper);
  const auto advance = [](const Line& l) { return l.new_row ? l.size * 1.35 : 0.0; };
  // The camera images under the text, one a row, each under its caption (camera, hash prefix).
  std::vector<Jpeg> shots(t.images.size());
  for (std::size_t i = 0; i < shots.size() && i < image_jpegs.size(); ++i) {
    if (!image_jpegs[i].empty()) shots[i] = jpeg_info(image_jpegs[i]).value_or(Jpeg{});
  }
  const double shot_w = roll ? paper.width - 2 * paper.margin : 240;
  const double caption_h = paper.size * 1.6;
  const auto shot_h = [&](const Jpeg& j) {
    return j.width > 0 ? shot_w * j.height / j.width + 4 : 0.0;
  };

  // Pages: A4 breaks where the next line would cross the bottom margin; the roll is one page.
  double content_h = logo_h ? logo_h + 10 : 0;
  for (const auto& l : lines) content_h += advance(l);
  for (const auto& j : shots) content_h += caption_h + shot_h(j);
  const double height = roll ? content_h + 2 * paper.margin : 841.89;
  std::vector<std::string> streams(1);
  double y = height - paper.margin;
  if (has_logo) {
    streams[0] += "q " + num(logo_w) + " 0 0 " + num(logo_h) + " " + num(paper.margin) + " " +
                  num(y - logo_h) + " cm /Im1 Do Q\n";
    y -= logo_h + 10;
  }
  for (const auto& l : lines) {
    if (!roll && l.new_row && y - advance(l) < paper.margin) {
      streams.emplace_back();
      y = height - paper.margin;
    }
    y -= advance(l);
    if (l.text.empty()) continue;
    streams.back() += "BT /" + std::string(l.bold ? "F2 " : "F1 ") + num(l.size) + " Tf " +
                      num(l.x) + " " + num(y) + " Td " + pdf_string(l.text) + " Tj ET\n";
  }
  std::vector<std::size_t> drawn;  // indexes of the images placed, /Cam1, /Cam2, ...
  for (std::size_t i = 0; i < shots.size(); ++i) {
    const auto& img = t.images[i];
    const double h = shot_h(shots[i]);
    if (!roll && y - caption_h - h < paper.margin) {
      streams.emplace_back();
      y = height - paper.margin;
    }
    y -= caption_h;
    const auto caption =
        img.camera + "  " + (img.sha256.empty() ? "-- " + img.reason : "sha256 " + img.sha_prefix);
    streams.back() += "BT /F1 " + num(paper.size) + " Tf " + num(paper.margin) + " " + num(y) +
                      " Td " + pdf_string(to_winansi(caption)) + " Tj ET\n";
    if (h <= 0) continue;
    y -= h;
    drawn.push_back(i);
    streams.back() += "q " + num(shot_w) + " 0 0 " + num(h - 4) + " " + num(paper.margin) + " " +
                      num(y) + " cm /Cam" + std::to_string(drawn.size()) + " Do Q\n";
  }

  // Objects: 1 catalog, 2 pages, 3 and 4 fonts, 5 the logo (or an empty dictionary), then a page
  // and its content stream per page.
  std::string out = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<std::size_t> offsets;
  const auto object = [&](const std::string& body) {
    offsets.push_back(out.size());
    out += std::to_string(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
  };
  std::string kids;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    kids += std::to_string(6 + 2 * i) + " 0 R ";
  }
  object("<< /Type /Catalog /Pages 2 0 R >>");
  object("<< /Type /Pages /Kids [ " + kids + "] /Count " + std::to_string(streams.size()) + " >>");
  object("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  object("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>");
  const auto image_object = [&](const Jpeg& info, std::string_view bytes) {
    const char* space = info.components == 1   ? "/DeviceGray"
                        : info.components == 4 ? "/DeviceCMYK"
                                               : "/DeviceRGB";
    object("<< /Type /XObject /Subtype /Image /Width " + std::to_string(info.width) + " /Height " +
           std::to_string(info.height) + " /ColorSpace " + space +
           " /BitsPerComponent 8 /Filter /DCTDecode /Length " + std::to_string(bytes.size()) +
           (info.components == 4 ? " /Decode [1 0 1 0 1 0 1 0]" : "") + " >>\nstream\n" +
           std::string(bytes) + "\nendstream");
  };
  if (has_logo) {
    image_object(jpeg, logo_jpeg);
  } else {
    object("<< >>");
  }
  // The camera images follow the pages: objects 6 + 2 * pages onwards.
  std::string xobjects = has_logo ? " /Im1 5 0 R" : "";
  for (std::size_t k = 0; k < drawn.size(); ++k) {
    xobjects +=
        " /Cam" + std::to_string(k + 1) + " " + std::to_string(6 + 2 * streams.size() + k) + " 0 R";
  }
  const std::string resources = "<< /Font << /F1 3 0 R /F2 4 0 R >>" +
                                (xobjects.empty() ? "" : " /XObject <<" + xobjects + " >>") + " >>";
  for (std::size_t i = 0; i < streams.size(); ++i) {
    object("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + num(paper.width) + " " + num(height) +
           "] /Resources " + resources + " /Contents " + std::to_string(7 + 2 * i) + " 0 R >>");
    object("<< /Length " + std::to_string(streams[i].size()) + " >>\nstream\n" + streams[i] +
           "\nendstream");
  }
  for (auto i : drawn) image_object(shots[i], image_jpegs[i]);
  const auto xref = out.size();
  out += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
  for (auto off : offsets) {
    char entry[21];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", off);
    out += entry;
  }
  out += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return out;
}

}  // namespace weighlink::agent
