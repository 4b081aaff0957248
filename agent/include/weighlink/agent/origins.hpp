#pragma once
// Browser origins paired with the station (docs/security.md, "Origin pairing"): how an Origin is
// normalized and validated, the format of the installers' drop-in preset files, and the registry
// that says whether an origin may use the agent and keeps the bounded list of origins waiting for
// the operator's decision. Pure: no I/O, the time comes in as an argument.
// Threading: OriginRegistry is not thread-safe; one owner (the agent's io thread, or the CLI).

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::agent {

// Longer Origin headers are refused and not recorded (a host name is at most 253 characters).
constexpr std::size_t kMaxOriginLength = 300;
// Origins waiting for a decision, at most; beyond, the one seen longest ago is dropped.
constexpr std::size_t kMaxPendingOrigins = 32;

// "HTTPS://Truload.Example.org:443" -> "https://truload.example.org": scheme and host in lower
// case, the scheme's default port dropped, one trailing "/" tolerated (typed by hand). Only
// http and https origins with a host name, an IPv4 address or a bracketed IPv6 address pass;
// `null`, paths, queries, user names, non-ASCII names (use the xn-- form) and over-long text are
// refused with an Error (invalid_argument) saying what is wrong and what to write instead.
[[nodiscard]] base::Expected<std::string> normalize_origin(std::string_view text);

// Where an allowed or denied origin comes from.
enum class OriginSource {
  config,  // allowed_origins in the configuration file (changed only there)
  preset,  // a drop-in file of origins.d, written by an installer (changed only there)
  paired   // the operator's decision on the page or with `weighlink-agent origins`
};
enum class OriginDecision { allowed, denied };

[[nodiscard]] std::string_view to_string(OriginSource source);
[[nodiscard]] std::string_view to_string(OriginDecision decision);

struct DecidedOrigin {
  std::string origin;  // normalized
  OriginDecision decision = OriginDecision::allowed;
  OriginSource source = OriginSource::paired;
  std::int64_t decided_at_ms = 0;  // paired only
  std::string where;               // config and preset: the file (and line) that allows it
};

struct PendingOrigin {
  std::string origin;  // normalized
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::uint64_t count = 0;         // refused requests
  std::set<std::string> surfaces;  // "api", "live", "truconnect_ws", "truconnect_http"
};

// One drop-in file's text: one origin per line; blank lines and everything after '#' ignored.
// Every origin is normalized; the first bad line is an Error "FILE:LINE: ..." (invalid_argument).
[[nodiscard]] base::Expected<std::vector<DecidedOrigin>> parse_origin_list(std::string_view text,
                                                                           const std::string& file);

enum class OriginVerdict { allowed, denied, unknown };

class OriginRegistry {
 public:
  explicit OriginRegistry(std::size_t max_pending = kMaxPendingOrigins)
      : max_pending_(max_pending) {}

  // The origins the files allow (configuration and drop-ins), replacing the previous ones.
  void set_fixed(std::vector<DecidedOrigin> fixed);
  // The operator's decisions as stored, replacing the previous ones. Pending origins that now
  // have a decision leave the pending list. Returns the origins that were allowed before and are
  // not any more (their open sockets are to be closed).
  std::vector<std::string> set_decisions(std::vector<DecidedOrigin> decisions);
  // Pending origins as stored (at start), oldest first; decided ones and extras are skipped.
  void set_pending(std::vector<PendingOrigin> pending);

  [[nodiscard]] OriginVerdict verdict(const std::string& origin) const;
  // The fixed entry or decision for `origin`, if any (a fixed one first).
  [[nodiscard]] const DecidedOrigin* find(const std::string& origin) const;

  // A request from `origin` (normalized) was refused on `surface` at `now_ms`: records it as
  // pending unless it is decided. Returns true when the origin is new to the list (the list's
  // members changed; counts alone do not).
  bool note_refused(const std::string& origin, std::string_view surface, std::int64_t now_ms);

  // Why the operator cannot `action` ("allow", "deny", "revoke") `origin` now, or nullopt:
  // fixed origins change only in their file; revoke needs a decision to remove.
  [[nodiscard]] std::optional<std::string> refuse_decision(std::string_view action,
                                                           const std::string& origin) const;

  [[nodiscard]] const std::vector<DecidedOrigin>& fixed() const { return fixed_; }
  [[nodiscard]] const std::vector<DecidedOrigin>& decisions() const { return decisions_; }
  [[nodiscard]] const std::vector<PendingOrigin>& pending() const { return pending_; }

  // {"allowed":[{"origin","source","decided_at"|"file"}],"denied":[...],"pending":[{"origin",
  // "first_seen","last_seen","count","surfaces"}]}: /v1/origins, /v1/status and `origins list`.
  [[nodiscard]] boost::json::object to_json() const;

 private:
  std::size_t max_pending_;
  std::vector<DecidedOrigin> fixed_;
  std::vector<DecidedOrigin> decisions_;
  std::vector<PendingOrigin> pending_;  // in order of first sight
};

}  // namespace weighlink::agent
