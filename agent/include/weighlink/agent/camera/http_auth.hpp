#pragma once
// HTTP authentication of snapshot cameras: Basic (RFC 7617) and Digest (RFC 7616, and RFC 2617's
// MD5 as most cameras still answer), qop=auth with nc and cnonce, MD5 and SHA-256 (and their
// -sess forms). Sans-I/O: challenges in, Authorization header values out. Pure functions.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::agent::camera {

// One challenge of a WWW-Authenticate header: its scheme (lower case) and parameters (names in
// lower case, values unquoted).
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

// Every challenge of a WWW-Authenticate value ("Digest realm=..., qop=\"auth\", Basic realm=...");
// what cannot be read is left out.
[[nodiscard]] std::vector<AuthChallenge> parse_www_authenticate(std::string_view value);

// "Basic base64(user:password)".
[[nodiscard]] std::string basic_authorization(std::string_view user, std::string_view password);

struct DigestInput {
  std::string user;
  std::string password;
  std::string method;  // GET
  std::string uri;     // the request target, as sent
  std::string cnonce;  // the client's nonce (random per request)
  unsigned nc = 1;     // how many times this nonce was used, this one included
};

// The Authorization value that answers a Digest challenge, or why it cannot be answered (an
// algorithm or qop this client does not speak: auth-int, SHA-512-256).
[[nodiscard]] base::Expected<std::string> digest_authorization(const AuthChallenge& challenge,
                                                               const DigestInput& input);

// The challenge to answer under `mode` (basic | digest | auto): digest prefers the strongest
// Digest algorithm offered (SHA-256 before MD5); auto takes Digest when offered, else Basic.
// nullptr when none fits (the error then names what the camera offered).
[[nodiscard]] const AuthChallenge* choose_challenge(const std::vector<AuthChallenge>& offered,
                                                    std::string_view mode);

}  // namespace weighlink::agent::camera
