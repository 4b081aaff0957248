// The YAML adapter of the agent configuration (yaml-cpp). Unknown keys are errors: a typo in a
// station's file must not silently fall back to a default.
#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

#include "weighlink/agent/config.hpp"

namespace weighlink::agent {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& key,
                       const std::string& what) {
  throw std::runtime_error(file.string() + ": " + key + ": " + what);
}

void check_keys(const YAML::Node& node, const std::set<std::string>& known,
                const std::filesystem::path& file, const std::string& where) {
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (!known.contains(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      fail(file, where + key, "unknown key (known keys here: " + list + ")");
    }
  }
}

template <class T>
T get(const YAML::Node& node, const std::filesystem::path& file, const std::string& key,
      const std::string& expected) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail(file, key, "expected " + expected);
  }
}

}  // namespace

void parse_listen(const std::string& text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw std::invalid_argument("listen address '" + text +
                                "' must be HOST:PORT, e.g. 127.0.0.1:8420");
  }
  std::string h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = -1;
  try {
    std::size_t used = 0;
    p = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) p = -1;
  } catch (const std::exception&) {
    p = -1;
  }
  if (p < 0 || p > 65535) {
    throw std::invalid_argument("listen address '" + text + "': port must be 0..65535");
  }
  host = h;
  port = static_cast<std::uint16_t>(p);
}

scale::ScaleConfig make_scale(const std::string& id, const std::string& source,
                              const std::string& protocol) {
  scale::ScaleConfig sc;
  sc.id = id;
  std::string error;
  auto spec = scale::parse_source(source, &error);
  if (!spec) throw std::invalid_argument("scale '" + id + "' source '" + source + "': " + error);
  sc.source = *spec;
  if (!scale::make_parser(protocol)) {
    throw std::invalid_argument("scale '" + id + "': unknown protocol '" + protocol +
                                "' (list them with: weighlink-scale protocols)");
  }
  sc.protocol = protocol;
  return sc;
}

AgentConfig load_config_file(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw std::runtime_error(file.string() + ": cannot read the configuration file");
  } catch (const YAML::ParserException& e) {
    throw std::runtime_error(file.string() + ": not valid YAML: " + e.what());
  }
  AgentConfig cfg;
  if (root.IsNull()) return cfg;
  if (!root.IsMap()) fail(file, "(top level)", "expected a mapping of keys");
  check_keys(root,
             {"listen", "data_dir", "station_id", "station_token_file", "backends", "scales",
              "allowed_origins", "allowed_hosts", "capture_timeout_ms", "outbox_max_rows",
              "replay_batch_size", "hello_interval_ms"},
             file, "");
  try {
    if (auto n = root["listen"]) {
      parse_listen(get<std::string>(n, file, "listen", "HOST:PORT"), cfg.listen_host,
                   cfg.listen_port);
    }
  } catch (const std::invalid_argument& e) {
    fail(file, "listen", e.what());
  }
  if (auto n = root["data_dir"]) cfg.data_dir = get<std::string>(n, file, "data_dir", "a path");
  if (auto n = root["station_id"]) {
    cfg.station_id = get<std::string>(n, file, "station_id", "a string");
  }
  if (auto n = root["station_token_file"]) {
    cfg.station_token_file = get<std::string>(n, file, "station_token_file", "a path");
  }
  if (auto n = root["backends"]) {
    cfg.backends = get<std::vector<std::string>>(n, file, "backends", "a list of HOST:PORT");
  }
  if (auto n = root["allowed_origins"]) {
    cfg.allowed_origins = get<std::vector<std::string>>(n, file, "allowed_origins", "a list");
  }
  if (auto n = root["allowed_hosts"]) {
    cfg.allowed_hosts = get<std::vector<std::string>>(n, file, "allowed_hosts", "a list");
  }
  if (auto n = root["capture_timeout_ms"]) {
    cfg.capture_timeout = std::chrono::milliseconds(
        get<std::uint32_t>(n, file, "capture_timeout_ms", "a number of milliseconds"));
  }
  if (auto n = root["outbox_max_rows"]) {
    cfg.outbox_max_rows = get<std::uint64_t>(n, file, "outbox_max_rows", "a positive number");
  }
  if (auto n = root["replay_batch_size"]) {
    cfg.replay_batch_size = get<std::size_t>(n, file, "replay_batch_size", "a positive number");
  }
  if (auto n = root["hello_interval_ms"]) {
    cfg.hello_interval = std::chrono::milliseconds(
        get<std::uint32_t>(n, file, "hello_interval_ms", "a number of milliseconds"));
  }
  if (auto scales = root["scales"]) {
    if (!scales.IsSequence()) fail(file, "scales", "expected a list of scales");
    for (std::size_t i = 0; i < scales.size(); ++i) {
      const auto s = scales[i];
      const std::string where = "scales[" + std::to_string(i) + "].";
      if (!s.IsMap()) fail(file, where, "expected a mapping with id, source, protocol");
      check_keys(s, {"id", "source", "protocol", "unit", "stale_after_ms"}, file, where);
      if (!s["source"])
        fail(file, where + "source", "missing (e.g. serial:/dev/ttyUSB0?baud=9600)");
      if (!s["protocol"]) fail(file, where + "protocol", "missing (see weighlink-scale protocols)");
      const auto id =
          s["id"] ? get<std::string>(s["id"], file, where + "id", "a string") : std::string("main");
      try {
        auto sc = make_scale(id, get<std::string>(s["source"], file, where + "source", "a string"),
                             get<std::string>(s["protocol"], file, where + "protocol", "a string"));
        if (auto u = s["unit"])
          sc.parser.unit = get<std::string>(u, file, where + "unit", "a unit");
        if (auto st = s["stale_after_ms"]) {
          sc.stale_after = std::chrono::milliseconds(
              get<std::uint32_t>(st, file, where + "stale_after_ms", "milliseconds"));
        }
        cfg.scales.push_back(std::move(sc));
      } catch (const std::invalid_argument& e) {
        fail(file, where.substr(0, where.size() - 1), e.what());
      }
    }
  }
  return cfg;
}

}  // namespace weighlink::agent
