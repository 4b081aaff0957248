// Basic and Digest authorization values (http_auth.hpp).
#include "weighlink/agent/camera/http_auth.hpp"

#include <algorithm>
#include <array>
#include <boost/algorithm/string/case_conv.hpp>
#include <cctype>
#include <cstdio>

#include "weighlink/base/base64.hpp"
#include "weighlink/base/hash.hpp"

namespace weighlink::agent::camera {
namespace {

std::string lower(std::string_view s) { return boost::algorithm::to_lower_copy(std::string(s)); }

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A reader over the header value: tokens, quoted strings, separators.
struct Reader {
  std::string_view s;
  std::size_t i = 0;
  void skip_space() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  bool at_end() {
    skip_space();
    return i >= s.size();
  }
  bool take(char c) {
    skip_space();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string token() {
    skip_space();
    const auto start = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    return std::string(s.substr(start, i - start));
  }
  // A quoted string (backslash escapes undone) or a token (token68 '=' padding kept).
  std::string value() {
    skip_space();
    if (i < s.size() && s[i] == '"') {
      std::string out;
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        out += s[i];
      }
      if (i < s.size()) ++i;
      return out;
    }
    auto v = token();
    while (i < s.size() && s[i] == '=') v += s[i++];
    return v;
  }
};

std::string hash(std::string_view algorithm, std::string_view data) {
  return algorithm == "sha-256" ? base::sha256_hex(data) : base::md5_hex(data);
}

// Quotes a value for the header (RFC 7230 quoted-string).
std::string quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string param(const AuthChallenge& c, const char* name) {
  auto it = c.params.find(name);
  return it == c.params.end() ? std::string() : it->second;
}

int digest_rank(const AuthChallenge& c) {
  const auto alg = lower(param(c, "algorithm"));
  if (alg == "sha-256" || alg == "sha-256-sess") return 2;
  if (alg.empty() || alg == "md5" || alg == "md5-sess") return 1;
  return 0;  // not spoken here
}

}  // namespace

std::vector<AuthChallenge> parse_www_authenticate(std::string_view value) {
  std::vector<AuthChallenge> out;
  Reader r{value};
  while (!r.at_end()) {
    if (r.take(',')) continue;
    auto name = r.token();
    if (name.empty()) break;  // not a header this reader understands
    if (r.take('=')) {
      // A parameter of the challenge before it.
      auto v = r.value();
      if (!out.empty()) out.back().params[lower(name)] = std::move(v);
      continue;
    }
    out.push_back(AuthChallenge{lower(name), {}});
  }
  return out;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string credentials(user);
  credentials += ':';
  credentials += password;
  return "Basic " + base::base64(std::string_view(credentials));
}

base::Expected<std::string> digest_authorization(const AuthChallenge& challenge,
                                                 const DigestInput& in) {
  const auto alg_param = param(challenge, "algorithm");
  auto alg = lower(alg_param.empty() ? "MD5" : alg_param);
  const bool sess = alg.ends_with("-sess");
  if (sess) alg.resize(alg.size() - 5);
  if (alg != "md5" && alg != "sha-256") {
    return base::invalid_argument("the camera asks for Digest algorithm " + alg_param +
                                  ", which this agent does not speak (MD5 or SHA-256); set "
                                  "auth: basic or change the camera's setting");
  }
  // qop: "auth" when offered; a challenge without qop is RFC 2069's form.
  bool qop_auth = false;
  const auto qops = param(challenge, "qop");
  if (!qops.empty()) {
    std::size_t start = 0;
    while (start <= qops.size()) {
      const auto end = std::min(qops.find(',', start), qops.size());
      auto one = lower(qops.substr(start, end - start));
      one.erase(0, one.find_first_not_of(" \t"));
      one.erase(one.find_last_not_of(" \t") + 1);
      if (one == "auth") qop_auth = true;
      start = end + 1;
    }
    if (!qop_auth) {
      return base::invalid_argument("the camera offers only Digest qop \"" + qops +
                                    "\"; this agent answers qop=auth");
    }
  }
  const auto realm = param(challenge, "realm");
  const auto nonce = param(challenge, "nonce");
  std::array<char, 9> nc{};
  std::snprintf(nc.data(), nc.size(), "%08x", in.nc);
  auto ha1 = hash(alg, in.user + ":" + realm + ":" + in.password);
  if (sess) ha1 = hash(alg, ha1 + ":" + nonce + ":" + in.cnonce);
  const auto ha2 = hash(alg, in.method + ":" + in.uri);
  const auto response =
      qop_auth ? hash(alg, ha1 + ":" + nonce + ":" + nc.data() + ":" + in.cnonce + ":auth:" + ha2)
               : hash(alg, ha1 + ":" + nonce + ":" + ha2);
  std::string out = "Digest username=" + quote(in.user) + ", realm=" + quote(realm) +
                    ", nonce=" + quote(nonce) + ", uri=" + quote(in.uri);
  if (!alg_param.empty()) out += ", algorithm=" + alg_param;
  out += ", response=" + quote(response);
  if (qop_auth) {
    out += ", qop=auth, nc=" + std::string(nc.data()) + ", cnonce=" + quote(in.cnonce);
  }
  if (const auto opaque = param(challenge, "opaque"); !opaque.empty()) {
    out += ", opaque=" + quote(opaque);
  }
  return out;
}

const AuthChallenge* choose_challenge(const std::vector<AuthChallenge>& offered,
                                      std::string_view mode) {
  const AuthChallenge* digest = nullptr;
  const AuthChallenge* basic = nullptr;
  for (const auto& c : offered) {
    if (c.scheme == "digest" && digest_rank(c) > 0 &&
        (!digest || digest_rank(c) > digest_rank(*digest))) {
      digest = &c;
    } else if (c.scheme == "basic" && !basic) {
      basic = &c;
    }
  }
  if (mode == "digest") return digest;
  if (mode == "basic") return basic;
  return digest ? digest : basic;
}

}  // namespace weighlink::agent::camera
