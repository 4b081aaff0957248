#include "weighlink/agent/origins.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A DNS name (letters, digits, '-', '_' in dot-separated labels of 1..63) or a dotted IPv4
// address, already lower case; or the Error (invalid_argument) saying what is wrong with it.
base::Expected<void> valid_host_name(std::string_view host) {
  if (host.empty()) {
    return base::invalid_argument("it has no host name");
  }
  if (host.size() > 253) {
    return base::invalid_argument("its host name is longer than 253 characters");
  }
  for (unsigned char c : host) {
    if (c >= 0x80) {
      return base::invalid_argument(
          "its host name is not ASCII: write the punycode form (xn--...) the browser sends");
    }
  }
  std::size_t start = 0;
  while (true) {
    const auto dot = host.find('.', start);
    const auto label = host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
    if (label.empty() || label.size() > 63) {
      return base::invalid_argument("its host name has an empty or over-long label");
    }
    for (char c : label) {
      if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_')) {
        return base::invalid_argument(std::string("its host name has the character '") + c + "'");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return base::invalid_argument("a label of its host name starts or ends with '-'");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

bool valid_ipv6(std::string_view inside) {
  if (inside.empty() || inside.find(':') == std::string_view::npos) return false;
  return std::all_of(inside.begin(), inside.end(), [](char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
  });
}

std::string format_ms(std::int64_t ms) {
  return scale::format_timestamp(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

}  // namespace

base::Expected<std::string> normalize_origin(std::string_view text) {
  auto fail = [](std::string what) -> base::Expected<std::string> {
    return base::invalid_argument(std::move(what));
  };
  if (text.empty()) return fail("the origin is empty; write it as https://host[:port]");
  if (text.size() > kMaxOriginLength) {
    return fail("the origin is longer than " + std::to_string(kMaxOriginLength) + " characters");
  }
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) {
      return fail("the origin contains a space or a control character");
    }
  }
  if (lowered(text) == "null") {
    return fail(
        "the opaque origin \"null\" (a sandboxed frame, a file:// page or a redirect) cannot be "
        "paired; serve the web app from an https:// address");
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    return fail("'" + std::string(text) + "' is not an origin; write it as https://host[:port]");
  }
  const auto scheme = lowered(text.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return fail("the scheme '" + scheme + "' cannot be paired: only http:// and https:// origins");
  }
  auto rest = text.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@\\") != std::string_view::npos) {
    return fail("'" + std::string(text) +
                "' has a path, query or user name; an origin is only scheme://host[:port]");
  }
  std::string host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || !valid_ipv6(lowered(rest.substr(1, close - 1)))) {
      return fail("'" + std::string(text) + "' has a malformed IPv6 address");
    }
    host = lowered(rest.substr(0, close + 1));
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("'" + std::string(text) + "' is malformed after ']'");
      port = after.substr(1);
      if (port.empty()) return fail("'" + std::string(text) + "' has an empty port");
    }
  } else {
    const auto colon = rest.find(':');
    host = lowered(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return fail("'" + std::string(text) + "' has an empty port");
    }
    if (auto valid = valid_host_name(host); !valid) {
      return fail("'" + std::string(text) + "': " + valid.error().message);
    }
  }
  std::string out = scheme + "://" + host;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) {
      return fail("'" + std::string(text) + "' has a port that is not a number");
    }
    const int n = std::stoi(std::string(port));
    if (n < 1 || n > 65535) {
      return fail("'" + std::string(text) + "' has a port outside 1..65535");
    }
    const bool default_port = (scheme == "http" && n == 80) || (scheme == "https" && n == 443);
    if (!default_port) out += ":" + std::to_string(n);
  }
  return out;
}

std::string_view to_string(OriginSource source) {
  switch (source) {
    case OriginSource::config:
      return "config";
    case OriginSource::preset:
      return "preset";
    case OriginSource::paired:
      break;
  }
  return "paired";
}

std::string_view to_string(OriginDecision decision) {
  return decision == OriginDecision::allowed ? "allowed" : "denied";
}

base::Expected<std::vector<DecidedOrigin>> parse_origin_list(std::string_view text,
                                                             const std::string& file) {
  std::vector<DecidedOrigin> out;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    ++line_no;
    const auto end = text.find('\n', start);
    auto line = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    start = end == std::string_view::npos ? text.size() : end + 1;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    auto origin = normalize_origin(line);
    if (!origin) {
      return base::invalid_argument(
          file + ":" + std::to_string(line_no) + ": " + origin.error().message +
          " (one origin per line, such as https://truload.example.org; # starts a comment)");
    }
    DecidedOrigin d;
    d.origin = std::move(*origin);
    d.source = OriginSource::preset;
    d.where = file + ":" + std::to_string(line_no);
    out.push_back(std::move(d));
  }
  return out;
}

void OriginRegistry::set_fixed(std::vector<DecidedOrigin> fixed) {
  fixed_ = std::move(fixed);
  std::erase_if(pending_, [this](const PendingOrigin& p) { return find(p.origin) != nullptr; });
}

std::vector<std::string> OriginRegistry::set_decisions(std::vector<DecidedOrigin> decisions) {
  std::vector<std::string> was_allowed;
  for (const auto& d : decisions_) {
    if (d.decision == OriginDecision::allowed) was_allowed.push_back(d.origin);
  }
  decisions_ = std::move(decisions);
  std::vector<std::string> revoked;
  for (const auto& o : was_allowed) {
    if (verdict(o) != OriginVerdict::allowed) revoked.push_back(o);
  }
  std::erase_if(pending_, [this](const PendingOrigin& p) { return find(p.origin) != nullptr; });
  return revoked;
}

void OriginRegistry::set_pending(std::vector<PendingOrigin> pending) {
  pending_.clear();
  for (auto& p : pending) {
    if (find(p.origin) || pending_.size() >= max_pending_) continue;
    pending_.push_back(std::move(p));
  }
}

const DecidedOrigin* OriginRegistry::find(const std::string& origin) const {
  for (const auto* list : {&fixed_, &decisions_}) {
    for (const auto& d : *list) {
      if (d.origin == origin) return &d;
    }
  }
  return nullptr;
}

OriginVerdict OriginRegistry::verdict(const std::string& origin) const {
  const auto* d = find(origin);
  if (!d) return OriginVerdict::unknown;
  return d->decision == OriginDecision::allowed ? OriginVerdict::allowed : OriginVerdict::denied;
}

bool OriginRegistry::note_refused(const std::string& origin, std::string_view surface,
                                  std::int64_t now_ms) {
  if (find(origin)) return false;  // denied: refused, but the operator is not asked again
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const PendingOrigin& p) { return p.origin == origin; });
  if (it != pending_.end()) {
    it->last_seen_ms = now_ms;
    ++it->count;
    it->surfaces.emplace(surface);
    return false;
  }
  if (max_pending_ == 0) return false;
  if (pending_.size() >= max_pending_) {
    // The one seen longest ago makes room: a flood of new origins cannot keep a real request
    // that is still being retried off the list.
    auto stalest = std::min_element(pending_.begin(), pending_.end(),
                                    [](const PendingOrigin& a, const PendingOrigin& b) {
                                      return a.last_seen_ms < b.last_seen_ms;
                                    });
    pending_.erase(stalest);
  }
  PendingOrigin p;
  p.origin = origin;
  p.first_seen_ms = p.last_seen_ms = now_ms;
  p.count = 1;
  p.surfaces.emplace(surface);
  pending_.push_back(std::move(p));
  return true;
}

std::optional<std::string> OriginRegistry::refuse_decision(std::string_view action,
                                                           const std::string& origin) const {
  for (const auto& f : fixed_) {
    if (f.origin != origin) continue;
    return origin + " is allowed by " +
           (f.source == OriginSource::config ? "allowed_origins in the configuration file"
                                             : "the drop-in file " + f.where) +
           "; " + std::string(action) + " it by editing that file and restarting the agent";
  }
  if (action == "revoke" && !find(origin)) {
    return origin + " has no decision to revoke (it is neither allowed nor denied)";
  }
  return std::nullopt;
}

json::object OriginRegistry::to_json() const {
  json::array allowed;
  json::array denied;
  for (const auto* list : {&fixed_, &decisions_}) {
    for (const auto& d : *list) {
      json::object o{{"origin", d.origin}, {"source", to_string(d.source)}};
      if (d.source == OriginSource::paired) {
        o["decided_at"] = format_ms(d.decided_at_ms);
      } else {
        o["file"] = d.where;
      }
      o["revocable"] = d.source == OriginSource::paired;
      (d.decision == OriginDecision::allowed ? allowed : denied).push_back(std::move(o));
    }
  }
  json::array pending;
  for (const auto& p : pending_) {
    json::array surfaces;
    for (const auto& s : p.surfaces) surfaces.push_back(json::string(s));
    pending.push_back(json::object{{"origin", p.origin},
                                   {"first_seen", format_ms(p.first_seen_ms)},
                                   {"last_seen", format_ms(p.last_seen_ms)},
                                   {"count", p.count},
                                   {"surfaces", std::move(surfaces)}});
  }
  return json::object{{"allowed", std::move(allowed)},
                      {"denied", std::move(denied)},
                      {"pending", std::move(pending)}};
}

}  // namespace weighlink::agent
