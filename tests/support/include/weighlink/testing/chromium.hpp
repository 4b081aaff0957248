#pragma once
// A headless Chromium driven over the Chrome DevTools Protocol, for tests of the operator page in
// a real browser. Starts Debian's /usr/bin/chromium with a throwaway profile and
// --remote-debugging-port=0, opens one page target and talks to it over a WebSocket
// (tests/support's WsClient). The destructor kills the whole browser (its process group) and
// removes the profile.
//
// Every call is bounded: a command the browser does not answer in time throws
// std::runtime_error (and the connection counts as lost). JavaScript exceptions thrown by
// evaluate() throw JsError. Console messages and uncaught exceptions of the page are collected
// (console()) so a test can show them, or insist that there were none.
//
// Threading: not thread-safe; one owner.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace weighlink::testing {

class Process;
class TempDir;
class WsClient;

struct ChromiumOptions {
  std::string binary = "/usr/bin/chromium";
  int width = 1280;  // the page's viewport
  int height = 900;
  std::chrono::milliseconds start_timeout{30'000};    // until the DevTools endpoint answers
  std::chrono::milliseconds command_timeout{15'000};  // per DevTools command
  // Further command-line switches (e.g. --host-resolver-rules=MAP truload.test 127.0.0.1).
  std::vector<std::string> extra_args;
  // HOME of the browser: its NSS database is HOME/.pki/nssdb (see trust_ca()). Empty: the test's.
  std::filesystem::path home;
};

// Makes a fresh NSS database in HOME/.pki/nssdb trusting each PEM CA certificate in `cas` for
// TLS servers, as Chromium on Linux reads it (certutil from libnss3-tools). Throws on failure.
void trust_cas(const std::filesystem::path& home, const std::vector<std::filesystem::path>& cas);

// A JavaScript exception from evaluate(); what() has the page's description of it.
class JsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Chromium {
 public:
  // Throws std::runtime_error (with the browser's output) when it cannot be started.
  explicit Chromium(ChromiumOptions options = {});
  ~Chromium();
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // Is the browser installed? (Tests skip with a message rather than fail when it is not.)
  [[nodiscard]] static bool available(const std::string& binary = "/usr/bin/chromium");

  // Loads `url` and waits until the document has loaded.
  void navigate(const std::string& url);

  // Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON
  // (undefined -> null). Throws JsError when it throws.
  boost::json::value evaluate(const std::string& expression);

  // Polls the JavaScript `predicate` (an exception counts as false) until it is truthy or
  // `timeout` passes; false then.
  [[nodiscard]] bool wait_for(const std::string& predicate,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Clicks the centre of the first element matching the CSS `selector` with real mouse events
  // (scrolled into view first). Throws when nothing matches or the element has no size.
  void click(const std::string& selector);
  // Focuses the element, selects its content and types `text` as keyboard input.
  void type(const std::string& selector, const std::string& text);
  // Presses and releases one key on the focused element: "Enter", "Tab", " " (space), "Escape",
  // "F1".."F12", or a character.
  void press(const std::string& key);
  // textContent of the first element matching `selector` ("" when none does).
  [[nodiscard]] std::string text(const std::string& selector);

  // Saves a PNG of the whole page (beyond the viewport) to `png`.
  void screenshot(const std::filesystem::path& png);

  // One DevTools command on the page target: its result, or std::runtime_error with the
  // browser's error.
  boost::json::object call(const std::string& method, boost::json::object params = {});
  // Sends a command without waiting for the answer (for use inside an event handler).
  void send(const std::string& method, boost::json::object params = {});
  // Calls `handler` with the params of every later event named `method` (e.g.
  // "Fetch.requestPaused"). Handlers run inside call()/evaluate() as the events arrive.
  void on_event(const std::string& method, std::function<void(const boost::json::object&)> handler);

  // Console messages ("log: ...", "error: ..."), the browser's own reports ("browser error:
  // ..." for a CSP violation or a failed load) and uncaught exceptions ("exception: ...") of the
  // page so far.
  [[nodiscard]] const std::vector<std::string>& console() const { return console_; }
  // Uncaught exceptions only.
  [[nodiscard]] const std::vector<std::string>& exceptions() const { return exceptions_; }
  // What the browser printed (for failure messages).
  [[nodiscard]] std::string log() const;

 private:
  std::int64_t send_command(const std::string& method, boost::json::object params);
  void dispatch_event(const boost::json::object& message);

  ChromiumOptions options_;
  std::unique_ptr<TempDir> dir_;  // profile/ and chromium.log
  std::unique_ptr<Process> process_;
  std::unique_ptr<WsClient> page_;
  std::string devtools_;  // 127.0.0.1:PORT
  std::string target_id_;
  std::int64_t next_id_ = 1;
  std::map<std::string, std::function<void(const boost::json::object&)>> handlers_;
  std::vector<std::string> console_;
  std::vector<std::string> exceptions_;
};

}  // namespace weighlink::testing
