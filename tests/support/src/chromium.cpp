#include "weighlink/testing/chromium.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>

#include "weighlink/base/base64.hpp"
#include "weighlink/testing/http_client.hpp"
#include "weighlink/testing/process.hpp"

namespace weighlink::testing {
namespace json = boost::json;

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "ws://127.0.0.1:PORT/devtools/page/ID" -> "/devtools/page/ID"
std::string ws_path(std::string_view url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  if (slash == std::string_view::npos) throw std::runtime_error("no path in " + std::string(url));
  return std::string(url.substr(slash));
}

// The JavaScript string literal for `s` (JSON strings are valid JavaScript).
std::string js_string(const std::string& s) { return json::serialize(json::value(s)); }

std::string remote_object_text(const json::object& o) {
  if (const auto* v = o.if_contains("value")) {
    return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
  }
  if (const auto* d = o.if_contains("description")) return std::string(d->as_string());
  if (const auto* t = o.if_contains("type")) return std::string(t->as_string());
  return "?";
}

std::string exception_text(const json::object& details) {
  if (const auto* e = details.if_contains("exception"); e && e->is_object()) {
    return remote_object_text(e->as_object());
  }
  if (const auto* t = details.if_contains("text")) return std::string(t->as_string());
  return "exception";
}

}  // namespace

bool Chromium::available(const std::string& binary) { return ::access(binary.c_str(), X_OK) == 0; }

void trust_cas(const std::filesystem::path& home, const std::vector<std::filesystem::path>& cas) {
  const auto db = home / ".pki" / "nssdb";
  std::filesystem::create_directories(db);
  auto certutil = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/certutil", "-d", "sql:" + db.string()});
    const auto r = run(args);
    if (r.exit_code != 0) {
      throw std::runtime_error("certutil failed (is libnss3-tools installed?): " + r.output);
    }
  };
  certutil({"-N", "--empty-password"});
  int n = 0;
  for (const auto& ca : cas) {
    certutil({"-A", "-t", "C,,", "-n", "weighlink-test-" + std::to_string(++n), "-i", ca.string()});
  }
}

Chromium::Chromium(ChromiumOptions options)
    : options_(std::move(options)), dir_(std::make_unique<TempDir>("wl-chromium")) {
  const auto profile = dir_->path() / "profile";
  std::filesystem::create_directories(profile);
  std::vector<std::string> argv;
  if (!options_.home.empty()) argv = {"/usr/bin/env", "HOME=" + options_.home.string()};
  for (std::string arg :
       {options_.binary, std::string("--headless"), std::string("--no-sandbox"),
        std::string("--disable-gpu"), std::string("--disable-background-networking"),
        std::string("--disable-component-update"), std::string("--no-first-run"),
        std::string("--no-default-browser-check"), std::string("--disable-dev-shm-usage"),
        std::string("--disable-extensions"), std::string("--disable-sync"),
        std::string("--hide-scrollbars"), std::string("--mute-audio"),
        "--window-size=" + std::to_string(options_.width) + "," + std::to_string(options_.height),
        "--user-data-dir=" + profile.string(), std::string("--remote-debugging-port=0")}) {
    argv.push_back(std::move(arg));
  }
  for (const auto& arg : options_.extra_args) argv.push_back(arg);
  argv.emplace_back("about:blank");
  process_ = std::make_unique<Process>(std::move(argv), dir_->path() / "chromium.log");

  // Chromium writes the port it bound (first line) once the DevTools endpoint listens.
  const auto port_file = profile / "DevToolsActivePort";
  const bool listening = eventually(
      [&] {
        if (process_->poll()) return true;
        const auto text = read_text(port_file);
        const auto nl = text.find('\n');
        if (nl == std::string::npos || nl == 0) return false;
        devtools_ = "127.0.0.1:" + text.substr(0, nl);
        return true;
      },
      options_.start_timeout, std::chrono::milliseconds(20));
  if (process_->poll() || !listening) {
    throw std::runtime_error("chromium did not open its DevTools port within " +
                             std::to_string(options_.start_timeout.count()) + " ms; its output:\n" +
                             log());
  }

  // A new page target over HTTP (Chromium wants PUT there), then its own WebSocket.
  auto created = http_request(devtools_, "PUT", "/json/new?about:blank");
  if (created.status != 200) {
    throw std::runtime_error("chromium refused a new page target: HTTP " +
                             std::to_string(created.status) + " " + created.body);
  }
  const auto target = json::parse(created.body).as_object();
  target_id_ = std::string(target.at("id").as_string());
  page_ = std::make_unique<WsClient>(
      devtools_, ws_path(std::string(target.at("webSocketDebuggerUrl").as_string())));
  call("Runtime.enable");
  call("Log.enable");  // what the browser itself reports: CSP violations, failed loads
  call("Page.enable");
  call("Emulation.setDeviceMetricsOverride", {{"width", options_.width},
                                              {"height", options_.height},
                                              {"deviceScaleFactor", 1},
                                              {"mobile", false}});
}

Chromium::~Chromium() {
  page_.reset();
  if (process_) {
    // Chromium runs as a process tree (zygotes, renderers, GPU and network services) in the
    // process group the runner gave it: kill the group, reap the browser, and wait (bounded) for
    // the rest to be gone before the profile they write to is removed.
    const pid_t group = process_->pid();
    ::kill(-group, SIGKILL);
    process_->kill();
    (void)eventually([group] { return ::kill(-group, 0) != 0 && errno == ESRCH; },
                     std::chrono::seconds(5), std::chrono::milliseconds(20));
  }
  process_.reset();
  dir_.reset();
}

std::string Chromium::log() const { return read_text(dir_->path() / "chromium.log"); }

std::int64_t Chromium::send_command(const std::string& method, json::object params) {
  if (!page_ || page_->closed()) {
    throw std::runtime_error("DevTools connection lost before " + method);
  }
  const auto id = next_id_++;
  page_->write(
      json::serialize(json::object{{"id", id}, {"method", method}, {"params", std::move(params)}}));
  return id;
}

void Chromium::send(const std::string& method, json::object params) {
  (void)send_command(method, std::move(params));
}

json::object Chromium::call(const std::string& method, json::object params) {
  const auto id = send_command(method, std::move(params));
  const auto deadline = std::chrono::steady_clock::now() + options_.command_timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto text = page_->read(std::max(left, std::chrono::milliseconds(1)));
    if (!text) {
      throw std::runtime_error("chromium did not answer " + method + " within " +
                               std::to_string(options_.command_timeout.count()) + " ms");
    }
    auto message = json::parse(*text).as_object();
    const auto* mid = message.if_contains("id");
    if (!mid) {
      dispatch_event(message);
      continue;
    }
    if (mid->to_number<std::int64_t>() != id) continue;  // the answer to a send()
    if (const auto* error = message.if_contains("error")) {
      throw std::runtime_error("DevTools " + method + " failed: " + json::serialize(*error));
    }
    if (auto* result = message.if_contains("result"); result && result->is_object()) {
      return std::move(result->as_object());
    }
    return {};
  }
}

void Chromium::dispatch_event(const json::object& message) {
  const auto* method = message.if_contains("method");
  const auto* params = message.if_contains("params");
  if (!method || !method->is_string() || !params || !params->is_object()) return;
  const auto& p = params->as_object();
  if (*method == "Runtime.consoleAPICalled") {
    std::string line = std::string(p.at("type").as_string()) + ":";
    for (const auto& arg : p.at("args").as_array()) {
      line += " " + remote_object_text(arg.as_object());
    }
    console_.push_back(std::move(line));
  } else if (*method == "Log.entryAdded") {
    const auto& entry = p.at("entry").as_object();
    console_.push_back("browser " + std::string(entry.at("level").as_string()) + ": " +
                       std::string(entry.at("text").as_string()));
  } else if (*method == "Runtime.exceptionThrown") {
    auto text = exception_text(p.at("exceptionDetails").as_object());
    exceptions_.push_back(text);
    console_.push_back("exception: " + text);
  }
  if (auto it = handlers_.find(std::string(method->as_string())); it != handlers_.end()) {
    it->second(p);
  }
}

void Chromium::on_event(const std::string& method,
                        std::function<void(const json::object&)> handler) {
  handlers_[method] = std::move(handler);
}

void Chromium::navigate(const std::string& url) {
  auto result = call("Page.navigate", {{"url", url}});
  if (const auto* error = result.if_contains("errorText"); error && !error->as_string().empty()) {
    throw std::runtime_error("cannot load " + url + ": " + std::string(error->as_string()));
  }
  const std::string loader =
      result.contains("loaderId") ? std::string(result.at("loaderId").as_string()) : "";
  // The new document, not the one being left, must be complete.
  if (!wait_for("document.readyState === 'complete' && location.href !== 'about:blank'",
                options_.command_timeout)) {
    throw std::runtime_error("page " + url + " did not finish loading (loader " + loader + ")");
  }
}

json::value Chromium::evaluate(const std::string& expression) {
  auto result = call("Runtime.evaluate", {{"expression", expression},
                                          {"returnByValue", true},
                                          {"awaitPromise", true},
                                          {"userGesture", true}});
  if (const auto* details = result.if_contains("exceptionDetails")) {
    throw JsError(exception_text(details->as_object()) + " (in: " + expression + ")");
  }
  const auto& remote = result.at("result").as_object();
  if (const auto* v = remote.if_contains("value")) return *v;
  return nullptr;
}

bool Chromium::wait_for(const std::string& predicate, std::chrono::milliseconds timeout) {
  const std::string guarded =
      "(() => { try { return !!(" + predicate + "); } catch (e) { return false; } })()";
  return eventually([&] { return evaluate(guarded) == true; }, timeout,
                    std::chrono::milliseconds(50));
}

void Chromium::click(const std::string& selector) {
  const auto point = evaluate(
      "(() => { const el = document.querySelector(" + js_string(selector) +
      ");"
      " if (!el) return null; el.scrollIntoView({block: 'center', inline: 'center'});"
      " const r = el.getBoundingClientRect();"
      " return {x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height}; })()");
  if (!point.is_object()) throw std::runtime_error("click: nothing matches " + selector);
  const auto& p = point.as_object();
  if (p.at("w").to_number<double>() <= 0 || p.at("h").to_number<double>() <= 0) {
    throw std::runtime_error("click: " + selector + " is not visible (no size)");
  }
  const double x = p.at("x").to_number<double>();
  const double y = p.at("y").to_number<double>();
  call("Input.dispatchMouseEvent", {{"type", "mouseMoved"}, {"x", x}, {"y", y}});
  for (const char* type : {"mousePressed", "mouseReleased"}) {
    call("Input.dispatchMouseEvent",
         {{"type", type}, {"x", x}, {"y", y}, {"button", "left"}, {"clickCount", 1}});
  }
}

void Chromium::type(const std::string& selector, const std::string& text) {
  const auto found = evaluate("(() => { const el = document.querySelector(" + js_string(selector) +
                              "); if (!el) return false; el.focus();"
                              " if (el.select) el.select(); return true; })()");
  if (found != true) throw std::runtime_error("type: nothing matches " + selector);
  call("Input.insertText", {{"text", text}});
}

void Chromium::press(const std::string& key) {
  json::object down{{"type", "keyDown"}, {"key", key}};
  if (key == "Enter") {
    down["code"] = "Enter";
    down["windowsVirtualKeyCode"] = 13;
    down["text"] = "\r";
  } else if (key == "Tab") {
    down["code"] = "Tab";
    down["windowsVirtualKeyCode"] = 9;
  } else if (key == " ") {
    down["code"] = "Space";
    down["windowsVirtualKeyCode"] = 32;
    down["text"] = " ";
  } else if (key == "Escape") {
    down["code"] = "Escape";
    down["windowsVirtualKeyCode"] = 27;
  } else if (key.size() >= 2 && key.size() <= 3 && key[0] == 'F' && key[1] >= '1' &&
             key[1] <= '9') {  // F1..F12: no text
    down["code"] = key;
    down["windowsVirtualKeyCode"] = 111 + std::stoi(key.substr(1));
  } else {
    down["text"] = key;
  }
  json::object up = down;
  up["type"] = "keyUp";
  up.erase("text");
  call("Input.dispatchKeyEvent", std::move(down));
  call("Input.dispatchKeyEvent", std::move(up));
}

std::string Chromium::text(const std::string& selector) {
  const auto v = evaluate("(() => { const el = document.querySelector(" + js_string(selector) +
                          "); return el ? el.textContent : ''; })()");
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

void Chromium::screenshot(const std::filesystem::path& png) {
  const auto size = evaluate(
      "({w: Math.max(document.documentElement.scrollWidth, innerWidth),"
      "  h: Math.max(document.documentElement.scrollHeight, innerHeight)})");
  auto shot = call("Page.captureScreenshot", {{"format", "png"},
                                              {"captureBeyondViewport", true},
                                              {"clip",
                                               {{"x", 0},
                                                {"y", 0},
                                                {"width", size.at("w").to_number<double>()},
                                                {"height", size.at("h").to_number<double>()},
                                                {"scale", 1}}}});
  const auto bytes = base::base64_decode(shot.at("data").as_string());
  if (!bytes) throw std::runtime_error("Page.captureScreenshot: the data is not base64");
  if (png.has_parent_path()) std::filesystem::create_directories(png.parent_path());
  std::ofstream out(png, std::ios::binary | std::ios::trunc);
  out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
  if (!out) throw std::runtime_error("cannot write screenshot " + png.string());
}

}  // namespace weighlink::testing
