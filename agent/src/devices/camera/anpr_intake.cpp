// Plate events as ANPR cameras push them (anpr_intake.hpp).
#include "weighlink/agent/camera/anpr_intake.hpp"

#include <algorithm>
#include <boost/algorithm/string/case_conv.hpp>
#include <boost/json.hpp>
#include <cctype>

#include "weighlink/base/base64.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent::camera {
namespace {

namespace json = boost::json;

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

base::Expected<std::string> checked_plate(std::string_view raw) {
  auto plate = boost::algorithm::to_upper_copy(trim(raw));
  const bool ok =
      !plate.empty() && plate.size() <= 16 && std::all_of(plate.begin(), plate.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == ' ' || c == '-';
      });
  if (!ok) {
    return base::invalid_argument("plate '" + std::string(raw.substr(0, 40)) +
                                  "' is not 1 to 16 of A-Z 0-9, space and dash");
  }
  return plate;
}

// The text of the first <tag>...</tag> (a namespace prefix allowed), trimmed; empty when absent.
std::string xml_text(std::string_view xml, std::string_view tag) {
  for (std::size_t at = 0; (at = xml.find(tag, at)) != std::string_view::npos; ++at) {
    if (at == 0 || (xml[at - 1] != '<' && xml[at - 1] != ':')) continue;
    const auto open_end = xml.find('>', at);
    if (open_end == std::string_view::npos || xml[at + tag.size()] != '>') continue;
    const auto close = xml.find("</", open_end);
    if (close == std::string_view::npos) return {};
    return trim(xml.substr(open_end + 1, close - open_end - 1));
  }
  return {};
}

std::string header_param(std::string_view header, std::string_view name) {
  const auto lower = boost::algorithm::to_lower_copy(std::string(header));
  const auto at = lower.find(std::string(name) + "=");
  if (at == std::string::npos) return {};
  auto v = header.substr(at + name.size() + 1);
  if (!v.empty() && v.front() == '"') {
    v.remove_prefix(1);
    return std::string(v.substr(0, v.find('"')));
  }
  return trim(v.substr(0, v.find(';')));
}

}  // namespace

base::Expected<PlateEvent> parse_plate_json(std::string_view body) {
  auto parsed = record::parse_exact(body);
  if (parsed.refusal || !parsed.value.is_object()) {
    return base::invalid_argument("the body is not a JSON object {\"plate\", ...}" +
                                  (parsed.refusal ? ": " + parsed.refusal->message : ""));
  }
  const auto& o = parsed.value.as_object();
  const auto* plate = o.if_contains("plate");
  if (!plate || !plate->is_string()) return base::invalid_argument("\"plate\" (a string) missing");
  PlateEvent e;
  auto p = checked_plate(plate->as_string());
  if (!p) return p.error();
  e.plate = std::move(*p);
  if (const auto* c = o.if_contains("camera"); c && c->is_string()) e.camera = c->as_string();
  if (const auto* c = o.if_contains("confidence"); c && !c->is_null()) {
    e.confidence = c->is_string() ? std::string(c->as_string()) : record::serialize_exact(*c);
  }
  if (const auto* i = o.if_contains("image_base64"); i && i->is_string()) {
    auto bytes = base::base64_decode(i->as_string());
    if (!bytes) return base::invalid_argument("\"image_base64\" is not standard, padded base64");
    e.jpeg = std::move(*bytes);
  }
  return e;
}

base::Expected<PlateEvent> parse_plate_multipart(std::string_view content_type,
                                                 std::string_view body) {
  const auto boundary = header_param(content_type, "boundary");
  if (boundary.empty()) return base::invalid_argument("multipart body without a boundary");
  const std::string delimiter = "--" + boundary;
  PlateEvent e;
  std::string xml;
  for (std::size_t at = body.find(delimiter); at != std::string_view::npos;) {
    const auto start = at + delimiter.size();
    if (body.substr(start, 2) == "--") break;  // the closing delimiter
    const auto next = body.find(delimiter, start);
    if (next == std::string_view::npos) break;
    auto part = body.substr(start, next - start);
    const auto head_end = part.find("\r\n\r\n");
    if (head_end != std::string_view::npos) {
      const auto head = boost::algorithm::to_lower_copy(std::string(part.substr(0, head_end)));
      auto content = part.substr(head_end + 4);
      if (content.ends_with("\r\n")) content.remove_suffix(2);
      if (head.find("image/jpeg") != std::string::npos) {
        if (e.jpeg.empty()) e.jpeg = std::string(content);
      } else if (xml.empty() && content.find("licensePlate") != std::string_view::npos) {
        xml = std::string(content);
      }
    }
    at = next;
  }
  if (xml.empty()) return base::invalid_argument("no part holds an XML <licensePlate>");
  auto p = checked_plate(xml_text(xml, "licensePlate"));
  if (!p) return p.error();
  e.plate = std::move(*p);
  e.confidence = xml_text(xml, "confidenceLevel");
  return e;
}

base::Expected<PlateEvent> parse_plate_event(std::string_view content_type, std::string_view body) {
  const auto type = boost::algorithm::to_lower_copy(std::string(content_type));
  if (type.starts_with("application/json")) return parse_plate_json(body);
  if (type.starts_with("multipart/")) return parse_plate_multipart(content_type, body);
  return base::invalid_argument("Content-Type '" + std::string(content_type) +
                                "' is not taken: send application/json or multipart/form-data");
}

}  // namespace weighlink::agent::camera
