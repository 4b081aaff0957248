// The ticket layout (`ticket:`, docs/configuration.md): header and footer lines, a JPEG logo
// (checked here, at start: it exists, is readable, is a JPEG a PDF can place, at most 512 KiB),
// the field rows in order, the paper and the language.
#include "config/config_ticket.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "config/config_checks.hpp"

namespace weighlink::agent {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& key,
                       const std::string& what) {
  config_checks::fail(file, "ticket." + key, what);
}

bool valid_field_id(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::vector<std::string> lines(const YAML::Node& n, const std::filesystem::path& file,
                               const std::string& key) {
  if (!n.IsSequence()) fail(file, key, "expected a list of lines");
  if (n.size() > kMaxTicketLines) {
    fail(file, key, "at most " + std::to_string(kMaxTicketLines) + " lines");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const auto at = key + "[" + std::to_string(i) + "]";
    if (!n[i].IsScalar()) fail(file, at, "expected a line of text");
    auto line = n[i].as<std::string>();
    if (line.size() > 200) fail(file, at, "at most 200 bytes");
    for (unsigned char c : line) {
      if (c < 0x20 || c == 0x7F) fail(file, at, "no control characters (one line per entry)");
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string read_logo(const std::filesystem::path& file, const std::filesystem::path& logo) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(logo, ec);
  if (ec) fail(file, "logo_file", "cannot read " + logo.string() + ": " + ec.message());
  if (size > kMaxLogoBytes) {
    fail(file, "logo_file",
         logo.string() + " is " + std::to_string(size) + " bytes; at most " +
             std::to_string(kMaxLogoBytes) + " (save it smaller, e.g. 600 pixels wide)");
  }
  std::ifstream in(logo, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in) fail(file, "logo_file", "cannot read " + logo.string());
  auto data = std::move(bytes).str();
  if (!is_usable_jpeg(data)) {
    fail(file, "logo_file",
         logo.string() +
             " is not a JPEG (baseline or progressive, gray, RGB or CMYK); "
             "convert the logo to .jpg");
  }
  return data;
}

}  // namespace

void load_ticket(const YAML::Node& n, const std::filesystem::path& file, TicketConfig& out) {
  if (!n.IsMap()) {
    throw std::runtime_error(file.string() +
                             ": ticket: expected a mapping (header, footer, logo_file, fields, "
                             "paper, language)");
  }
  const std::set<std::string> known{"header", "footer", "logo_file", "fields", "paper", "language"};
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    if (!known.contains(key)) {
      fail(file, key,
           "unknown key (known keys here: fields, footer, header, language, logo_file, paper)");
    }
  }
  if (auto v = n["header"]) out.header = lines(v, file, "header");
  if (auto v = n["footer"]) out.footer = lines(v, file, "footer");
  if (auto v = n["paper"]) {
    out.paper = v.IsScalar() ? v.as<std::string>() : std::string();
    if (out.paper != "a4" && out.paper != "80mm") {
      fail(file, "paper", "'" + out.paper + "': expected a4 or 80mm");
    }
  }
  if (auto v = n["language"]) {
    out.language = v.IsScalar() ? v.as<std::string>() : std::string();
    if (out.language != "en" && out.language != "sw") {
      fail(file, "language", "'" + out.language + "': expected en or sw");
    }
  }
  if (auto v = n["fields"]) {
    if (!v.IsSequence() || v.size() == 0) {
      fail(file, "fields", "expected a list of field ids (record_id, captured_at, plate, ...)");
    }
    out.fields.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto at = "fields[" + std::to_string(i) + "]";
      const auto id = v[i].IsScalar() ? v[i].as<std::string>() : std::string();
      if (!valid_field_id(id)) {
        fail(file, at,
             "'" + id +
                 "': a field id of lower-case letters, digits and '_' (record_id, captured_at, "
                 "plate, reference, transaction, scale, operator, type, or a reference field's "
                 "id such as customer)");
      }
      for (const auto& f : out.fields) {
        if (f == id) fail(file, at, "'" + id + "' is listed twice");
      }
      out.fields.push_back(id);
    }
  }
  if (auto v = n["logo_file"]) {
    out.logo_file = v.IsScalar() ? v.as<std::string>() : std::string();
    if (!out.logo_file.empty()) out.logo_jpeg = read_logo(file, out.logo_file);
  }
}

}  // namespace weighlink::agent
