// Origin pairing's pure core: normalization, the drop-in format, the registry's pending
// bookkeeping and decisions (time injected as milliseconds).
#include "weighlink/agent/origins.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <system_error>

using namespace weighlink::agent;

namespace {

std::string norm(std::string_view text) {
  auto o = normalize_origin(text);
  return o ? *o : "ERROR: " + o.error().message;
}

DecidedOrigin decided(std::string origin, OriginDecision d, OriginSource s = OriginSource::paired,
                      std::int64_t at = 0) {
  DecidedOrigin out;
  out.origin = std::move(origin);
  out.decision = d;
  out.source = s;
  out.decided_at_ms = at;
  out.where = s == OriginSource::paired ? "" : "/etc/weighlink/origins.d/truload.conf:2";
  return out;
}

}  // namespace

TEST_CASE("origins: an Origin is normalized to scheme://host[:port]") {
  CHECK(norm("https://truload.example.org") == "https://truload.example.org");
  CHECK(norm("HTTPS://TruLoad.Example.ORG") == "https://truload.example.org");
  CHECK(norm("https://truload.example.org:443") == "https://truload.example.org");
  CHECK(norm("http://truload.example.org:80") == "http://truload.example.org");
  CHECK(norm("https://truload.example.org:8443") == "https://truload.example.org:8443");
  CHECK(norm("http://localhost:3000") == "http://localhost:3000");
  CHECK(norm("https://truload.example.org/") == "https://truload.example.org");  // typed by hand
  CHECK(norm("http://192.168.1.20:8080") == "http://192.168.1.20:8080");
  CHECK(norm("http://[::1]:3000") == "http://[::1]:3000");
  CHECK(norm("https://[FE80::1]") == "https://[fe80::1]");
  CHECK(norm("https://xn--bcher-kva.example") == "https://xn--bcher-kva.example");
  CHECK(norm("https://my_app.example.org") == "https://my_app.example.org");
}

TEST_CASE("origins: null, malformed and over-long origins are refused with a reason") {
  CHECK(norm("null").find("opaque origin") != std::string::npos);
  CHECK(norm("NULL").find("opaque origin") != std::string::npos);
  CHECK(norm("").find("empty") != std::string::npos);
  CHECK(norm("truload.example.org").find("https://host") != std::string::npos);
  CHECK(norm("file:///tmp/x").find("only http:// and https://") != std::string::npos);
  CHECK(norm("chrome-extension://abcdef").find("only http") != std::string::npos);
  CHECK(norm("https://truload.example.org/app").find("path") != std::string::npos);
  CHECK(norm("https://truload.example.org?x=1").find("path, query") != std::string::npos);
  CHECK(norm("https://user@truload.example.org").find("user") != std::string::npos);
  CHECK(norm("https://truload.example.org:0").find("1..65535") != std::string::npos);
  CHECK(norm("https://truload.example.org:65536").find("1..65535") != std::string::npos);
  CHECK(norm("https://truload.example.org:44a").find("not a number") != std::string::npos);
  CHECK(norm("https://truload.example.org:").find("empty port") != std::string::npos);
  CHECK(norm("https://").find("no host") != std::string::npos);
  CHECK(norm("https://bad..example").find("label") != std::string::npos);
  CHECK(norm("https://-bad.example").find("'-'") != std::string::npos);
  CHECK(norm("https://b\xc3\xbc"
             "cher.example")
            .find("punycode") != std::string::npos);
  CHECK(norm("https://[zz::1]").find("IPv6") != std::string::npos);
  CHECK(norm("https://a b.example").find("space") != std::string::npos);
  CHECK(norm("https://x.example\r\nSet-Cookie: a").find("control") != std::string::npos);
  const std::string long_origin = "https://" + std::string(295, 'a') + ".org";
  CHECK(norm(long_origin).find("longer than 300") != std::string::npos);
}

TEST_CASE("origins: a drop-in file is one origin per line, # comments, errors name file:line") {
  auto list = parse_origin_list(
      "# TruLoad, set by the installer\n\nhttps://TruLoad.example.org  # production\n"
      "  https://staging.truload.example.org:8443\r\n",
      "/etc/weighlink/origins.d/truload.conf");
  REQUIRE(list.has_value());
  REQUIRE(list->size() == 2);
  CHECK(list->at(0).origin == "https://truload.example.org");
  CHECK(list->at(0).source == OriginSource::preset);
  CHECK(list->at(0).where == "/etc/weighlink/origins.d/truload.conf:3");
  CHECK(list->at(1).origin == "https://staging.truload.example.org:8443");

  auto bad = parse_origin_list("https://ok.example\n\nhttps://bad.example/path\n", "x.conf");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == std::errc::invalid_argument);
  CHECK(bad.error().message.starts_with("x.conf:3: "));
  CHECK(bad.error().message.find("path") != std::string::npos);
}

TEST_CASE("origins: a refused origin is pending with first/last seen, count and surfaces") {
  OriginRegistry r;
  CHECK(r.verdict("https://truload.example.org") == OriginVerdict::unknown);
  CHECK(r.note_refused("https://truload.example.org", "truconnect_ws", 1000));
  CHECK_FALSE(r.note_refused("https://truload.example.org", "truconnect_http", 5000));
  REQUIRE(r.pending().size() == 1);
  const auto& p = r.pending().front();
  CHECK(p.first_seen_ms == 1000);
  CHECK(p.last_seen_ms == 5000);
  CHECK(p.count == 2);
  CHECK(p.surfaces == std::set<std::string>{"truconnect_http", "truconnect_ws"});
  const auto doc = r.to_json();
  CHECK(doc.at("pending").as_array().at(0).at("count") == 2);
  CHECK(doc.at("pending").as_array().at(0).at("first_seen") == "1970-01-01T00:00:01.000Z");
}

TEST_CASE("origins: the pending list is bounded; the origin seen longest ago makes room") {
  OriginRegistry r(3);
  r.note_refused("https://a.example", "api", 10);
  r.note_refused("https://b.example", "api", 20);
  r.note_refused("https://c.example", "api", 30);
  r.note_refused("https://a.example", "api", 40);  // a is retried: b is now the stalest
  CHECK(r.note_refused("https://d.example", "api", 50));
  REQUIRE(r.pending().size() == 3);
  std::set<std::string> left;
  for (const auto& p : r.pending()) left.insert(p.origin);
  CHECK(left ==
        std::set<std::string>{"https://a.example", "https://c.example", "https://d.example"});
}

TEST_CASE("origins: allow and deny end pending; deny is never asked again; revoke reports") {
  OriginRegistry r;
  r.note_refused("https://truload.example.org", "live", 1);
  r.note_refused("https://evil.example", "live", 2);
  auto revoked = r.set_decisions({decided("https://truload.example.org", OriginDecision::allowed),
                                  decided("https://evil.example", OriginDecision::denied)});
  CHECK(revoked.empty());
  CHECK(r.pending().empty());
  CHECK(r.verdict("https://truload.example.org") == OriginVerdict::allowed);
  CHECK(r.verdict("https://evil.example") == OriginVerdict::denied);
  CHECK_FALSE(r.note_refused("https://evil.example", "live", 3));
  CHECK(r.pending().empty());  // denied: the operator is not nagged

  // Revoking the allow (decision removed) and turning it into a deny both end the allow.
  revoked = r.set_decisions({decided("https://evil.example", OriginDecision::denied)});
  CHECK(revoked == std::vector<std::string>{"https://truload.example.org"});
  CHECK(r.verdict("https://truload.example.org") == OriginVerdict::unknown);
  r.set_decisions({decided("https://truload.example.org", OriginDecision::allowed)});
  revoked = r.set_decisions({decided("https://truload.example.org", OriginDecision::denied)});
  CHECK(revoked == std::vector<std::string>{"https://truload.example.org"});
}

TEST_CASE("origins: configured and preset origins are allowed and cannot be changed here") {
  OriginRegistry r;
  r.note_refused("https://truload.example.org", "api", 1);
  r.set_fixed(
      {decided("https://truload.example.org", OriginDecision::allowed, OriginSource::preset)});
  CHECK(r.pending().empty());
  CHECK(r.verdict("https://truload.example.org") == OriginVerdict::allowed);
  auto why = r.refuse_decision("revoke", "https://truload.example.org");
  REQUIRE(why);
  CHECK(why->find("/etc/weighlink/origins.d/truload.conf:2") != std::string::npos);
  CHECK(r.refuse_decision("deny", "https://truload.example.org"));
  CHECK(r.refuse_decision("revoke", "https://other.example"));  // nothing to revoke
  CHECK_FALSE(r.refuse_decision("allow", "https://other.example"));
  const auto doc = r.to_json();
  CHECK(doc.at("allowed").as_array().at(0).at("source") == "preset");
  CHECK(doc.at("allowed").as_array().at(0).at("revocable") == false);
}
