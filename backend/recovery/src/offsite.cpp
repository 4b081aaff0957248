// Backup locations: parsing, the rclone output and error rules, the ordered fallback. No I/O here
// but what the stores do; the stores are in offsite_local.cpp and offsite_rclone.cpp.
#include "weighlink/recovery/offsite.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <regex>
#include <stdexcept>

#include "offsite_stores.hpp"

namespace weighlink::recovery {
namespace {

// One static instance, never deleted through the base (boost's error_category has a protected
// non-virtual destructor by design).
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor)
class OffsiteCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "weighlink.offsite"; }
  std::string message(int value) const override {
    switch (static_cast<OffsiteErrc>(value)) {
      case OffsiteErrc::ok:
        return "ok";
      case OffsiteErrc::invalid_argument:
        return "invalid location or file name";
      case OffsiteErrc::unreachable:
        return "endpoint unreachable";
      case OffsiteErrc::not_found:
        return "not found";
      case OffsiteErrc::none_reachable:
        return "no backup location reachable";
      case OffsiteErrc::failed:
        return "offsite operation failed";
    }
    return "unknown weighlink.offsite error";
  }
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains_any(std::string_view haystack, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(), [&](std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
  });
}

// Parameter names whose values display() hides.
bool secret_parameter(std::string_view name) {
  const auto n = lower(name);
  return contains_any(n, {"pass", "secret", "key", "token"});
}

// "scheme://user:password@host" -> "scheme://user:***@host", for every URL in `text`.
std::string redact_url_passwords(std::string text) {
  std::size_t from = 0;
  while ((from = text.find("://", from)) != std::string::npos) {
    const std::size_t start = from + 3;
    const std::size_t end = text.find_first_of("/'\",", start);
    const std::size_t at = text.rfind('@', end == std::string::npos ? text.size() : end);
    if (at != std::string::npos && at > start) {
      const std::size_t colon = text.find(':', start);
      if (colon != std::string::npos && colon < at) text.replace(colon + 1, at - colon - 1, "***");
    }
    from = start;
  }
  return text;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

const boost::system::error_category& offsite_category() noexcept {
  static const OffsiteCategory category;
  return category;
}

void throw_exception_from_error(const OffsiteError& error, const boost::source_location&) {
  throw std::runtime_error(error.message);
}

std::string Location::display() const {
  if (kind == Kind::local) return spec;
  // Connection-string parameters: `name,key=value,key='quoted, value':path`.
  std::string out;
  std::size_t i = 0;
  while (i < spec.size()) {
    const char c = spec[i];
    out.push_back(c);
    ++i;
    if (c != ',') continue;
    const std::size_t eq = spec.find('=', i);
    if (eq == std::string::npos || spec.find_first_of(",:", i) < eq) continue;
    const std::string_view key(spec.data() + i, eq - i);
    out.append(key).push_back('=');
    i = eq + 1;
    std::size_t end = i;
    if (end < spec.size() && (spec[end] == '\'' || spec[end] == '"')) {
      // Quoted; a doubled quote stands for one.
      const char quote = spec[end++];
      while (end < spec.size()) {
        if (spec[end] == quote && end + 1 < spec.size() && spec[end + 1] == quote) {
          end += 2;
        } else if (spec[end] == quote) {
          ++end;
          break;
        } else {
          ++end;
        }
      }
    } else {
      end = std::min(spec.find_first_of(",:", i), spec.size());
    }
    out.append(secret_parameter(key) ? std::string("***") : spec.substr(i, end - i));
    i = end;
  }
  return redact_url_passwords(out);
}

OffsiteResult<Location> parse_location(std::string spec) {
  if (spec.empty()) {
    return OffsiteError{OffsiteErrc::invalid_argument,
                        "empty backup location; give a folder or an rclone remote (name:path)",
                        "empty"};
  }
  const std::size_t colon = spec.find(':');
  const std::size_t slash = spec.find('/');
  const bool drive = colon == 1 && std::isalpha(static_cast<unsigned char>(spec[0]));
  const bool remote =
      colon != std::string::npos && (slash == std::string::npos || colon < slash) && !drive;
  return Location{remote ? Location::Kind::remote : Location::Kind::local, std::move(spec)};
}

OffsiteResult<std::vector<Location>> parse_locations(const std::vector<std::string>& specs) {
  std::vector<Location> locations;
  for (const auto& spec : specs) {
    auto location = parse_location(spec);
    if (!location) return location.error();
    locations.push_back(std::move(*location));
  }
  return locations;
}

OffsiteResult<void> check_file_name(std::string_view name) {
  const bool control = std::any_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of("/\\") != std::string_view::npos || control) {
    return OffsiteError{OffsiteErrc::invalid_argument,
                        "invalid file name '" + std::string(name) +
                            "' in a backup location: a plain name is needed, without a folder",
                        "invalid file name"};
  }
  return {};
}

std::string remote_path(std::string_view spec, std::string_view name) {
  std::string out(spec);
  if (!out.empty() && out.back() != ':' && out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

OffsiteResult<std::vector<StoreEntry>> parse_lsjson(std::string_view json) {
  const auto bad = [&](const std::string& why) {
    return OffsiteError{OffsiteErrc::failed,
                        "rclone lsjson printed something unexpected (" + why +
                            "); check that `rclone version` is 1.60 or newer",
                        why};
  };
  boost::system::error_code ec;
  const auto value = boost::json::parse(json, ec);
  if (ec || !value.is_array()) return bad("not a JSON array");
  std::vector<StoreEntry> entries;
  for (const auto& item : value.as_array()) {
    const auto* object = item.if_object();
    if (object == nullptr) return bad("an entry is not an object");
    const auto* is_dir = object->if_contains("IsDir");
    if (is_dir != nullptr && is_dir->is_bool() && is_dir->as_bool()) continue;
    const auto* name = object->if_contains("Name");
    const auto* size = object->if_contains("Size");
    const auto* mod_time = object->if_contains("ModTime");
    if (name == nullptr || !name->is_string() || size == nullptr || !size->is_number()) {
      return bad("an entry without Name or Size");
    }
    StoreEntry entry;
    entry.name = std::string(name->as_string());
    boost::system::error_code size_ec;
    const auto bytes = size->to_number<std::int64_t>(size_ec);
    // rclone prints -1 when the backend does not know the size.
    entry.size = (size_ec || bytes < 0) ? 0 : static_cast<std::uint64_t>(bytes);
    if (mod_time != nullptr && mod_time->is_string()) {
      if (auto t = parse_rfc3339(mod_time->as_string())) entry.mod_time = *t;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string rclone_error_summary(std::string_view stderr_text) {
  std::string_view best;
  std::size_t start = 0;
  while (start <= stderr_text.size()) {
    std::size_t end = stderr_text.find('\n', start);
    if (end == std::string_view::npos) end = stderr_text.size();
    std::string_view line = trim(stderr_text.substr(start, end - start));
    start = end + 1;
    // "2024/05/01 03:00:00 ERROR : ..." -> "..."
    const bool year = line.size() > 20 && std::all_of(line.begin(), line.begin() + 4, [](char c) {
                        return std::isdigit(static_cast<unsigned char>(c)) != 0;
                      });
    if (year && line[4] == '/' && line[10] == ' ') {
      line.remove_prefix(20);
    }
    for (std::string_view level : {"ERROR : ", "CRITICAL: ", "NOTICE: ", "INFO  : "}) {
      if (line.starts_with(level)) line.remove_prefix(level.size());
    }
    if (!line.empty()) best = line;
  }
  std::string out(best);
  // "Failed to lsjson with 2 errors: last error was: <cause>" -> "<cause>"
  static constexpr std::string_view kLast = "last error was: ";
  if (const auto at = out.find(kLast); at != std::string::npos) out.erase(0, at + kLast.size());
  constexpr std::size_t kMax = 400;
  if (out.size() > kMax) out = out.substr(0, kMax) + "...";
  return out;
}

OffsiteErrc classify_rclone_failure(int exit_status, std::string_view stderr_text) {
  const auto text = lower(stderr_text);
  // Go's net and net/http errors, as rclone passes them on.
  if (contains_any(
          text,
          {"connection refused", "no such host", "i/o timeout", "timeout awaiting response headers",
           "context deadline exceeded", "tls handshake timeout", "connection reset by peer",
           "network is unreachable", "no route to host", "server misbehaving",
           "temporary failure in name resolution", "unexpected eof", "broken pipe"})) {
    return OffsiteErrc::unreachable;
  }
  // An HTTP 5xx: "503 Service Unavailable" (Go's status texts), "StatusCode: 502",
  // "status code 500".
  static const std::regex kServerError(
      "5[0-9][0-9] (internal server error|not implemented|bad gateway|service unavailable|"
      "gateway timeout|http version not supported|insufficient storage|loop detected|"
      "network authentication required)|status ?code[: =]*5[0-9][0-9]([^0-9]|$)");
  if (std::regex_search(text, kServerError)) return OffsiteErrc::unreachable;
  // rclone's exit codes: 3 directory not found, 4 file not found, 5 temporary error.
  if (exit_status == 3 || exit_status == 4 ||
      contains_any(text, {"directory not found", "object not found", "file not found",
                          "doesn't exist", "404 not found"})) {
    return OffsiteErrc::not_found;
  }
  if (exit_status == 5) return OffsiteErrc::unreachable;
  return OffsiteErrc::failed;
}

std::unique_ptr<Store> open_store(const Location& location, const RcloneOptions& options) {
  if (location.remote()) return make_rclone_store(location, options);
  return make_local_store(location);
}

OffsiteResult<ReachableStore> open_first_reachable(const std::vector<Location>& locations,
                                                   const StoreFactory& factory) {
  if (locations.empty()) {
    return OffsiteError{OffsiteErrc::invalid_argument, "no backup location given", "empty list"};
  }
  ReachableStore out;
  for (std::size_t i = 0; i < locations.size(); ++i) {
    auto store = factory ? factory(locations[i]) : open_store(locations[i]);
    const auto started = std::chrono::steady_clock::now();
    auto entries = store->list();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (entries) {
      out.store = std::move(store);
      out.index = i;
      out.entries = std::move(*entries);
      return out;
    }
    out.skipped.push_back({locations[i], entries.error(), elapsed});
  }
  std::string message = "no backup location could be listed:";
  for (std::size_t i = 0; i < out.skipped.size(); ++i) {
    const auto& note = out.skipped[i];
    message += (i == 0 ? " " : "; ") + std::string(i == 0 ? "primary " : "fallback ") +
               note.location.display() + " " + make_error_code(note.error.code).message() + " (" +
               note.error.detail + ")";
  }
  message += "; check that the endpoints are up and reachable from this host";
  return OffsiteError{OffsiteErrc::none_reachable, message, out.skipped.back().error.detail};
}

std::string describe_fallback(const ReachableStore& reachable) {
  const std::string served = reachable.store ? reachable.store->location().display() : "?";
  if (reachable.skipped.empty()) return "served by primary " + served;
  std::string out;
  for (std::size_t i = 0; i < reachable.skipped.size(); ++i) {
    const auto& note = reachable.skipped[i];
    out += std::string(i == 0 ? "primary " : "fallback ") + note.location.display() + " " +
           make_error_code(note.error.code).message() + " (" + note.error.detail + "), ";
  }
  return out + "served by fallback " + served;
}

}  // namespace weighlink::recovery
