#pragma once
// A loopback HTTP snapshot camera for integration tests (docs/devices.md, "Camera evidence"): it
// answers GET on any path with a JPEG, behind Digest authentication (RFC 7616: a 401 with a
// challenge, then the response checked with the configured password; MD5 or SHA-256, qop=auth)
// or Basic, or none. A test can hold its answers (a camera slower than the agent's deadline:
// released by the test or the destructor, never by a sleep), stop it (the camera unplugged) and
// change the image.
//
// Threading: an accept thread and a thread per connection of its own; every public member is
// thread-safe. The destructor releases held answers, stops and joins.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace weighlink::testing {

struct CameraSimOptions {
  std::string auth = "digest";    // digest | basic | none
  std::string algorithm = "MD5";  // digest: MD5 | SHA-256
  std::string user = "admin";
  std::string password = "cam-pass";
  std::string realm = "IP Camera(C1234)";
};

class CameraSim {
 public:
  explicit CameraSim(CameraSimOptions options = {});
  ~CameraSim();
  CameraSim(const CameraSim&) = delete;
  CameraSim& operator=(const CameraSim&) = delete;

  [[nodiscard]] std::string address() const;  // "127.0.0.1:PORT"
  // The image served from now on.
  void set_image(std::string jpeg);
  [[nodiscard]] std::string image() const;
  // Answers wait (after the request is read and authenticated) until release().
  void hold();
  void release();
  // Authenticated requests waiting in hold() now.
  [[nodiscard]] std::size_t held() const;
  // Images served, and requests refused with 401 after a wrong answer to the challenge.
  [[nodiscard]] std::size_t served() const;
  [[nodiscard]] std::size_t refused() const;
  // The camera goes away: the port refuses connections from now on.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A small valid JPEG (SOI ... EOI) whose bytes differ with `seed`: not a picture anyone looks
// at, but what the agent's checks accept.
[[nodiscard]] std::string test_jpeg(std::uint32_t seed);

// A loopback port nothing listens on (bound, then closed): a camera absent from the start.
[[nodiscard]] std::string closed_address();

}  // namespace weighlink::testing
