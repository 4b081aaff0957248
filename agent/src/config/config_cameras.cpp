// Config `cameras:` and `anpr:` (config_cameras.hpp; docs/configuration.md, "Cameras").
#include "config/config_cameras.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <set>
#include <string>

#include "config/config_checks.hpp"
#include "weighlink/base/credential_files.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent {
namespace {

using config_checks::check_device_id;
using config_checks::check_keys;
using config_checks::fail;

std::string text(const YAML::Node& n, const std::filesystem::path& file, const std::string& key) {
  if (!n.IsScalar()) fail(file, key, "expected a string");
  return n.as<std::string>();
}

std::uint64_t number(const YAML::Node& n, const std::filesystem::path& file, const std::string& key,
                     std::uint64_t min, std::uint64_t max) {
  const auto range = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  std::uint64_t v = 0;
  try {
    v = n.as<std::uint64_t>();
  } catch (const YAML::Exception&) {
    fail(file, key, "expected " + range);
  }
  if (v < min || v > max) fail(file, key, "must be " + range + ", not " + std::to_string(v));
  return v;
}

// A secret file must be readable now: a camera that cannot log in is found at start, not at the
// first weighing.
void check_secret(const std::string& path, const std::filesystem::path& file,
                  const std::string& key) {
  if (auto secret = base::read_token_file(path); !secret) {
    fail(file, key, secret.error().message);
  }
}

void check_url(const CameraConfig& c, const std::filesystem::path& file, const std::string& key) {
  const std::string scheme = c.type == "http" ? "http" : "rtsp";
  auto url = boost::urls::parse_uri(c.url);
  if (!url || url->scheme() != scheme || url->encoded_host().empty()) {
    std::string hint = scheme == "http"
                           ? "e.g. http://192.168.1.64/ISAPI/Streaming/channels/101/picture"
                           : "e.g. rtsp://192.168.1.64:554/Streaming/Channels/101";
    if (c.type == "http" && c.url.starts_with("https://")) {
      hint = "cameras on the station LAN are reached over plain HTTP; https is not supported";
    }
    fail(file, key, "'" + c.url + "' is not an " + scheme + ":// URL with a host (" + hint + ")");
  }
  if (url->has_userinfo()) {
    fail(file, key, "put the user in username and the password in password_file, not in the URL");
  }
}

CameraConfig load_camera(const YAML::Node& n, const std::filesystem::path& file,
                         const std::string& where, const AgentConfig& cfg) {
  if (!n.IsMap()) fail(file, where, "expected a mapping with id, type, url");
  check_keys(n,
             {"id", "type", "url", "username", "password_file", "auth", "deadline_ms", "scales",
              "on_axles", "max_bytes"},
             file, where + ".");
  CameraConfig c;
  if (!n["id"]) fail(file, where + ".id", "missing (e.g. entry-cam)");
  c.id = text(n["id"], file, where + ".id");
  check_device_id(c.id, file, where + ".id");
  if (auto v = n["type"]) c.type = text(v, file, where + ".type");
  if (c.type != "http" && c.type != "rtsp") {
    fail(file, where + ".type", "'" + c.type + "': expected http or rtsp");
  }
  if (!n["url"]) fail(file, where + ".url", "missing (the camera's snapshot URL)");
  c.url = text(n["url"], file, where + ".url");
  check_url(c, file, where + ".url");
  if (auto v = n["username"]) c.username = text(v, file, where + ".username");
  if (auto v = n["password_file"]) {
    c.password_file = text(v, file, where + ".password_file");
    check_secret(c.password_file, file, where + ".password_file");
  }
  if (auto v = n["auth"]) c.auth = text(v, file, where + ".auth");
  if (c.auth != "basic" && c.auth != "digest" && c.auth != "auto") {
    fail(file, where + ".auth", "'" + c.auth + "': expected basic, digest or auto");
  }
  if (!c.password_file.empty() && c.username.empty()) {
    fail(file, where + ".username", "missing: password_file is set, so the camera needs a user");
  }
  if (auto v = n["deadline_ms"]) {
    c.deadline = std::chrono::milliseconds(number(v, file, where + ".deadline_ms", 100, 30'000));
  }
  if (auto v = n["max_bytes"]) {
    c.max_bytes = number(v, file, where + ".max_bytes", 1024, std::uint64_t{16} * 1024 * 1024);
  }
  if (auto v = n["on_axles"]) {
    try {
      c.on_axles = v.as<bool>();
    } catch (const YAML::Exception&) {
      fail(file, where + ".on_axles", "expected true or false");
    }
  }
  if (auto v = n["scales"]) {
    if (!v.IsSequence()) fail(file, where + ".scales", "expected a list of scale ids");
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto key = where + ".scales[" + std::to_string(i) + "]";
      auto id = text(v[i], file, key);
      // Scales given by flags alone (no scales: in the file) are named at run time.
      if (!cfg.scales.empty() && std::none_of(cfg.scales.begin(), cfg.scales.end(),
                                              [&](const auto& s) { return s.id == id; })) {
        fail(file, key, "no scale with id '" + id + "' in scales");
      }
      c.scales.push_back(std::move(id));
    }
  }
  return c;
}

void load_anpr(const YAML::Node& n, const std::filesystem::path& file, AnprConfig& out) {
  if (!n.IsMap()) fail(file, "anpr", "expected a mapping (listen, cameras, offer_for_s)");
  check_keys(n, {"listen", "cameras", "offer_for_s"}, file, "anpr.");
  if (!n["listen"]) fail(file, "anpr.listen", "missing (e.g. 0.0.0.0:8421, where cameras push)");
  out.listen = text(n["listen"], file, "anpr.listen");
  if (auto hp = base::parse_host_port(out.listen, base::PortZero::allowed); !hp) {
    fail(file, "anpr.listen", hp.error().message);
  }
  if (auto v = n["offer_for_s"]) {
    out.offer_for = std::chrono::seconds(number(v, file, "anpr.offer_for_s", 5, 3600));
  }
  const auto cams = n["cameras"];
  if (!cams || !cams.IsSequence() || cams.size() == 0) {
    fail(file, "anpr.cameras", "expected a list of the cameras allowed to push: {id, source_ip}");
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < cams.size(); ++i) {
    const auto where = "anpr.cameras[" + std::to_string(i) + "]";
    const auto c = cams[i];
    if (!c.IsMap()) fail(file, where, "expected a mapping with id, source_ip");
    check_keys(c, {"id", "source_ip", "token_file", "scale"}, file, where + ".");
    AnprCameraConfig a;
    if (!c["id"]) fail(file, where + ".id", "missing");
    a.id = text(c["id"], file, where + ".id");
    check_device_id(a.id, file, where + ".id");
    if (!ids.insert(a.id).second) fail(file, where + ".id", "duplicate id '" + a.id + "'");
    if (!c["source_ip"]) fail(file, where + ".source_ip", "missing (the camera's IP address)");
    a.source_ip = text(c["source_ip"], file, where + ".source_ip");
    if (auto v = c["token_file"]) {
      a.token_file = text(v, file, where + ".token_file");
      check_secret(a.token_file, file, where + ".token_file");
    }
    if (auto v = c["scale"]) a.scale = text(v, file, where + ".scale");
    out.cameras.push_back(std::move(a));
  }
}

}  // namespace

void load_cameras(const YAML::Node& root, const std::filesystem::path& file, AgentConfig& cfg) {
  if (auto cams = root["cameras"]) {
    if (!cams.IsSequence()) fail(file, "cameras", "expected a list of cameras");
    for (std::size_t i = 0; i < cams.size(); ++i) {
      const auto where = "cameras[" + std::to_string(i) + "]";
      auto c = load_camera(cams[i], file, where, cfg);
      for (const auto& other : cfg.cameras.cameras) {
        if (other.id == c.id) fail(file, where + ".id", "duplicate id '" + c.id + "'");
      }
      cfg.cameras.cameras.push_back(std::move(c));
    }
  }
  if (auto anpr = root["anpr"]) load_anpr(anpr, file, cfg.cameras.anpr);
}

}  // namespace weighlink::agent
