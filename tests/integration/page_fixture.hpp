#pragma once
// The operator page's test station: a weighlink-agent with one scale `main` on a pty indicator
// and a headless Chromium on its page (tests/integration/page_*.cpp). What an operator sees and
// clicks is what the tests check.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/testing/chromium.hpp"
#include "weighlink/testing/http_client.hpp"
#include "weighlink/testing/process.hpp"
#include "weighlink/testing/pty_scale.hpp"

namespace page_test {

namespace json = boost::json;
using namespace std::chrono_literals;
using weighlink::testing::Chromium;
using weighlink::testing::http_request;

inline const std::filesystem::path kArtifacts = WEIGHLINK_TEST_ARTIFACTS_DIR;
constexpr auto kWait = 10s;  // every wait on the page is bounded by this
inline const std::string kScale = "[data-scale=\"main\"]";

// An indicator on a pty that keeps sending frames of what it currently displays, 20 per second,
// until it is told to fall silent.
class Indicator {
 public:
  Indicator(const std::filesystem::path& link, std::string protocol)
      : pty_(link), protocol_(std::move(protocol)), thread_([this] { run(); }) {}
  ~Indicator() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  Indicator(const Indicator&) = delete;
  Indicator& operator=(const Indicator&) = delete;

  [[nodiscard]] std::string path() const { return pty_.path(); }
  void show(const std::string& weight, bool motion = false,
            const std::vector<std::string>& decks = {}) {
    std::lock_guard lock(mutex_);
    state_.weight = *weighlink::scale::Decimal::parse(weight);
    state_.tare = *weighlink::scale::Decimal::parse("0");
    state_.motion = motion;
    state_.decks.clear();
    for (const auto& d : decks) state_.decks.push_back(*weighlink::scale::Decimal::parse(d));
    sending_ = true;
  }
  void fall_silent() { sending_ = false; }

 private:
  void run() {
    while (!stop_) {
      std::optional<std::string> frame;
      if (sending_) {
        std::lock_guard lock(mutex_);
        frame = weighlink::scale::encode_frame(protocol_, state_);
      }
      try {
        if (frame) pty_.write(*frame, 200ms);
      } catch (const std::runtime_error&) {
        // Nobody reads (the agent is stopped): the frame is lost, as on a real line.
      }
      // The indicator's frame period (20 Hz), not a wait for an event: the destructor wakes it.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, 50ms, [this] { return stop_.load(); });
    }
  }

  weighlink::testing::PtyScale pty_;
  std::string protocol_;
  std::mutex mutex_;
  std::condition_variable wake_;
  weighlink::scale::DisplayState state_;
  std::atomic<bool> sending_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once everything above exists
};

struct StationOptions {
  std::string protocol = "mt-continuous";
  std::string scale_keys;               // more YAML keys of the scale, each "    key: value\n"
  std::vector<std::string> agent_args;  // e.g. --backend
  std::string config;                   // more top-level YAML (e.g. compat: ...)
  int width = 1280;                     // the browser's viewport
  int height = 900;
};

// A weighlink-agent with one scale `main` on a pty indicator, and a browser on its page.
class Station {
 public:
  explicit Station(StationOptions options = {})
      : indicator_(dir_ / "scale", options.protocol), options_(std::move(options)) {
    REQUIRE_MESSAGE(Chromium::available(),
                    "/usr/bin/chromium is missing: run `make deps` (Debian package chromium)");
    write_config();
    start_agent("127.0.0.1:0");
    weighlink::testing::ChromiumOptions browser;
    browser.width = options_.width;
    browser.height = options_.height;
    browser_ = std::make_unique<Chromium>(browser);
    browser_->navigate("http://" + http_ + "/");
  }

  // The options the configuration file is written from: change them, then write_config() and
  // restart the agent.
  StationOptions& options() { return options_; }
  void write_config() {
    std::ofstream(dir_ / "agent.yaml")
        << "capture_timeout_ms: 1500\n"
        << options_.config
        << "scales:\n"
           "  - id: main\n"
           "    source: serial:"
        << indicator_.path() << "\n    protocol: " << options_.protocol
        << "\n    stale_after_ms: 400\n"
        << options_.scale_keys;
  }
  // Stops the agent and starts it again on the same address (the page reconnects by itself).
  void restart_agent() {
    const std::string address = http_;
    stop_agent();
    start_agent(address);
  }

  Indicator& indicator() { return indicator_; }
  Chromium& browser() { return *browser_; }
  const std::string& http() const { return http_; }
  const weighlink::testing::TempDir& dir() const { return dir_; }

  void start_agent(const std::string& listen) {
    std::vector<std::string> argv = {weighlink::testing::bin("weighlink-agent"),
                                     "--config",
                                     (dir_ / "agent.yaml").string(),
                                     "--listen",
                                     listen,
                                     "--ready-file",
                                     (dir_ / "agent.ready").string(),
                                     "--data-dir",
                                     (dir_ / "data").string(),
                                     "--station-id",
                                     "wb-page"};
    argv.insert(argv.end(), options_.agent_args.begin(), options_.agent_args.end());
    std::filesystem::remove(dir_ / "agent.ready");
    agent_ = std::make_unique<weighlink::testing::Process>(argv, dir_ / "agent.log");
    ready_ = agent_->wait_ready(dir_ / "agent.ready");
    http_ = ready_.at("http");
  }
  // An address from the agent's ready file ("truconnect_ws", ...).
  std::string address(const std::string& key) const { return ready_.at(key); }
  void stop_agent() { CHECK(agent_->terminate() == 0); }

  // Waits for the JavaScript `predicate`; on time out the test fails with what the page showed.
  bool wait(const std::string& predicate) {
    if (browser_->wait_for(predicate, kWait)) return true;
    FAIL_CHECK("the page never satisfied: " << predicate << "\nscale card: " << text(kScale)
                                            << "\npage console:\n"
                                            << console() << "\nagent log:\n"
                                            << agent_->log());
    return false;
  }
  // Waits until the scale card shows `weight` in `state` (stable, motion, stale, offline...).
  bool shows(const std::string& weight, const std::string& state) {
    return wait("document.querySelector('" + kScale + "').dataset.state === '" + state +
                "' && document.querySelector('" + kScale + " .weight').textContent === '" + weight +
                "'");
  }
  std::string text(const std::string& selector) { return browser_->text(selector); }
  std::string console() const {
    std::string out;
    for (const auto& line : browser_->console()) out += "  " + line + "\n";
    return out;
  }

  json::value get(const std::string& target) {
    auto r = http_request(http_, "GET", target);
    REQUIRE_MESSAGE(r.status == 200, target << ": " << r.body);
    return json::parse(r.body);
  }
  weighlink::testing::HttpResult post(const std::string& target, const std::string& key,
                                      const std::string& body) {
    return http_request(http_, "POST", target,
                        {{"Content-Type", "application/json"}, {"Idempotency-Key", key}}, body);
  }
  // The audit events the agent recorded at its first start (docs/legal-metrology.md): the
  // outbox's first rows, pending like the weighings (no backend here).
  std::int64_t audit() { return get("/v1/status").at("audit").at("counter").as_int64(); }
  std::string seq(int weighing) { return "seq " + std::to_string(audit() + weighing); }
  // The deck is cleared and the agent has seen zero: the next weighing may be captured.
  void zero() {
    indicator().show("0");
    REQUIRE(weighlink::testing::eventually(
        [&] {
          return get("/v1/status").at("scales").at(0).at("zero_return").at("required") == false;
        },
        std::chrono::seconds(10)));
  }
  // The outbox rows of one kind, oldest first.
  std::vector<json::object> outbox(const std::string& kind, const std::string& state = "") {
    std::vector<json::object> out;
    const auto list = get("/v1/outbox" + (state.empty() ? "" : "?state=" + state));
    for (const auto& item : list.at("items").as_array()) {
      if (item.at("kind") == kind.c_str()) out.push_back(item.as_object());
    }
    return out;
  }

  // Saves the page as build/test-artifacts/NAME and names it in the test output; with
  // WEIGHLINK_SCREENSHOTS=DIR set, also as DIR/NAME (the pictures of docs/operator.md).
  void screenshot(const std::string& name) {
    const auto path = kArtifacts / name;
    browser_->screenshot(path);
    MESSAGE("operator page screenshot: " << path.string());
    if (const char* dir = std::getenv("WEIGHLINK_SCREENSHOTS"); dir != nullptr && *dir != 0) {
      std::filesystem::create_directories(dir);
      std::filesystem::copy_file(path, std::filesystem::path(dir) / name,
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }

 private:
  weighlink::testing::TempDir dir_{"wl-page"};
  Indicator indicator_;
  StationOptions options_;
  std::unique_ptr<weighlink::testing::Process> agent_;
  std::string http_;
  std::map<std::string, std::string> ready_;
  std::unique_ptr<Chromium> browser_;
};

inline std::string js_quote(const std::string& s) { return json::serialize(json::value(s)); }

// JavaScript: does the text of `selector` contain `fragment`?
inline std::string contains(const std::string& selector, const std::string& fragment) {
  return "document.querySelector(" + js_quote(selector) + ").textContent.includes(" +
         js_quote(fragment) + ")";
}

// The page broke its own Content-Security-Policy (the browser blocked something)?
inline bool csp_violated(const Chromium& browser) {
  for (const auto& line : browser.console()) {
    if (line.find("Content Security Policy") != std::string::npos) return true;
  }
  return false;
}

inline std::string style(Chromium& browser, const std::string& selector,
                         const std::string& property) {
  auto v = browser.evaluate("getComputedStyle(document.querySelector(" + js_quote(selector) +
                            "))." + property);
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

}  // namespace page_test
