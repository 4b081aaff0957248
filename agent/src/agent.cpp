#include "weighlink/agent/agent.hpp"

#include <spdlog/spdlog.h>

#ifndef _WIN32
#include <sys/resource.h>
#endif

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <system_error>
#include <utility>

#include "tls/local_tls_status.hpp"
#include "uplink.hpp"
#include "weighlink/agent/api.hpp"
#include "weighlink/agent/devices.hpp"
#include "weighlink/agent/frame_flags.hpp"
#include "weighlink/agent/legal.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/agent/local_tls.hpp"
#include "weighlink/agent/pairing.hpp"
#include "weighlink/agent/records.hpp"
#include "weighlink/agent/server.hpp"
#include "weighlink/agent/station_routes.hpp"
#include "weighlink/agent/tickets.hpp"
#include "weighlink/agent/truconnect.hpp"
#include "weighlink/base/backoff.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/base/ready_file.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/scale/reader.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/sync/replay.hpp"

namespace weighlink::agent {
namespace asio = boost::asio;

namespace {

// The station key, created on first start when none is configured.
base::Expected<std::vector<unsigned char>> load_key(const AgentConfig& config) {
  const auto path = station_key_path(config);
  if (config.station_key_file.empty() && !std::filesystem::exists(path)) {
    if (auto created = record::create_station_key(path.string()); !created) return created.error();
    spdlog::warn(
        "created a new station key in {}: it signs every captured record; back it up and "
        "register it with the backend (docs/outbox.md, \"Evidence\")",
        path.string());
  }
  return record::read_station_key(path.string());
}

// The descriptors the server may need: its connection caps, plus a margin for the outbox, the
// scales, gRPC and logs. The soft RLIMIT_NOFILE is raised to the hard one (systemd starts
// services at 1024); when even that is short, one warning says so: beyond it accepts fail with
// EMFILE and the server pauses accepting instead of spinning (docs/security.md).
void check_descriptors(const AgentConfig& config) {
#ifndef _WIN32
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  const std::size_t listeners =
      std::size_t{config.truconnect.enabled ? 3U : 1U} * (config.tls.enabled ? 2U : 1U);
  const std::size_t needed = listeners * config.limits.max_connections + 64;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    spdlog::warn(
        "open-file limit {} is below what limits.max_connections {} on {} port(s) may need "
        "(about {}): raise LimitNOFILE, or lower limits.max_connections",
        static_cast<unsigned long long>(lim.rlim_cur), config.limits.max_connections, listeners,
        needed);
  }
#else
  (void)config;
#endif
}

// Retrying an optional compatibility port: soon at first, then every few seconds at most.
constexpr base::BackoffPolicy kCompatBackoff{std::chrono::milliseconds(500),
                                             std::chrono::milliseconds(5000)};

}  // namespace

std::filesystem::path outbox_path(const AgentConfig& config) {
  return config.data_dir / "outbox.db";
}

std::filesystem::path station_key_path(const AgentConfig& config) {
  return config.station_key_file.empty() ? config.data_dir / "station.key"
                                         : config.station_key_file;
}

int Agent::run(const AgentConfig& config, ServiceHost* host) {
  if (!is_loopback_host(config.listen_host) ||
      (config.truconnect.enabled && (!is_loopback_host(config.truconnect.ws_host) ||
                                     !is_loopback_host(config.truconnect.http_host)))) {
    spdlog::warn(
        "allow_remote: true: the local API listens beyond this machine ({}:{}); it has no login, "
        "so only trusted networks must reach it",
        config.listen_host, config.listen_port);
  }
  check_descriptors(config);
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}; choose another with --data-dir",
                  config.data_dir.string(), ec.message());
    return 1;
  }
  sync::OutboxOptions outbox_options;
  outbox_options.max_rows = config.outbox_max_rows;
  outbox_options.station_id = config.station_id;
  apply_evidence_options(config.evidence, outbox_options);
  if (auto key = load_key(config)) {
    outbox_options.signing_key = std::move(*key);
  } else {
    spdlog::error("{}", key.error().message);
    return 1;
  }
  auto opened = sync::Outbox::open(outbox_path(config), outbox_options);
  if (!opened) {
    spdlog::error("{}", opened.error().message);
    return 1;
  }
  std::unique_ptr<sync::Outbox> outbox = std::move(*opened);

  // Origin pairing: the files' origins (a bad line stops the start, naming file and line) and
  // the operator's decisions in the data directory.
  auto fixed_origins = load_fixed_origins(config);
  if (!fixed_origins) {
    spdlog::error("{}", fixed_origins.error().message);
    return 2;
  }
  auto origin_store = OriginStore::open(origins_db_path(config));
  if (!origin_store) {
    // Weighing never stops for the pairing store: the agent runs with the configured and preset
    // origins, and decisions made now last until it stops.
    spdlog::error("{}: origin decisions are kept in memory only until this is fixed",
                  origin_store.error().message);
    origin_store = OriginStore::open(":memory:");
  }
  auto opened_pairing =
      origin_store ? OriginPairing::open(std::move(*origin_store), std::move(*fixed_origins))
                   : base::Expected<std::unique_ptr<OriginPairing>>(origin_store.error());
  if (!opened_pairing) {
    spdlog::error("{}", opened_pairing.error().message);
    return 1;
  }
  auto pairing = std::move(*opened_pairing);

  auto uplink = make_uplink(config, *outbox);
  if (uplink.exit_code != 0) return uplink.exit_code;
  auto& replay = uplink.replay;
  const bool plaintext_remote = uplink.plaintext_remote;

  asio::io_context ioc(1);
  LiveState live;
  for (const auto& s : config.scales) live.add_scale(s);

  CaptureContext capture_ctx;
  capture_ctx.station_id = config.station_id;
  capture_ctx.agent_version = WEIGHLINK_VERSION;
  capture_ctx.outbox = outbox.get();
  capture_ctx.live = &live;
  capture_ctx.clock = &real_clock();  // the cores' one clock (the TruConnect layer's too)
  capture_ctx.post = [&ioc](std::function<void()> fn) { asio::post(ioc, std::move(fn)); };
  capture_ctx.schedule = [&ioc](std::chrono::milliseconds delay, std::function<void()> fn) {
    auto timer = std::make_shared<asio::steady_timer>(ioc, delay);
    timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  };
  // Software identification, audit trail (recorded before serving), zero return: legal.hpp.
  auto legal = make_legal(config, *outbox, live, pairing.get(), capture_ctx);
  sync::BlobStore blobs(config.data_dir / "blobs");
  // Cameras, printers, lights and barriers, remote displays (devices.hpp).
  auto devices = make_devices({&config, outbox.get(), &live, &blobs, legal.get(), capture_ctx.clock,
                               capture_ctx.post, capture_ctx.schedule},
                              capture_ctx);
  Captures captures(capture_ctx);

  // Per scale: frames flagged by the parser, counted and warned about from the reader thread.
  std::map<std::string, std::unique_ptr<FlaggedFrames>> flagged;
  for (const auto& sc : config.scales) flagged[sc.id] = std::make_unique<FlaggedFrames>();

  // TruConnect's ports (compatibility on), with whether each is listening.
  std::vector<ListenState> compat_ports;
  if (config.truconnect.enabled) {
    const auto& tc = config.truconnect;
    compat_ports = {
        {"compat.truconnect.ws_listen", base::format_host_port(tc.ws_host, tc.ws_port), {}, {}},
        {"compat.truconnect.http_listen",
         base::format_host_port(tc.http_host, tc.http_port),
         {},
         {}}};
  }

  ApiContext ctx;
  ctx.station_id = config.station_id;
  ctx.compat_ports = &compat_ports;
  ctx.agent_version = WEIGHLINK_VERSION;
  ctx.outbox = outbox.get();
  ctx.live = &live;
  ctx.captures = &captures;
  ctx.replay = replay.get();
  ctx.security.allowed_origins = config.allowed_origins;
  ctx.security.allowed_hosts = config.allowed_hosts;
  ctx.pairing = pairing.get();
  ctx.capture_timeout = config.capture_timeout;
  ctx.uplink_transport = config.backend_tls.enabled ? "tls" : "plaintext";
  ctx.uplink_plaintext_remote = plaintext_remote;
  ctx.post = capture_ctx.post;
  ctx.clock = capture_ctx.clock;
  ctx.routes.push_back(legal.get());
  ctx.software = legal->software().to_json();
  std::unique_ptr<LocalTls> local_tls;
  if (config.tls.enabled) {
    local_tls = std::make_unique<LocalTls>();
    local_tls->files = tls_files(config);
    EnsureOptions options;
    options.station_id = config.station_id;
    options.renew_before = config.tls.renew_before;
    auto ensured = ensure_local_tls(local_tls->files, options, std::chrono::system_clock::now());
    if (!ensured.state) {
      spdlog::error("tls: {}", ensured.error);
      return ensured.exit_code;
    }
    local_tls->state = std::move(*ensured.state);
    local_tls->log(local_tls->state);
    ctx.tls_status = [&local_tls] { return local_tls->status_json(); };
  }
  Server* server_ptr = nullptr;
  ctx.live_clients = [&server_ptr] { return server_ptr ? server_ptr->live_clients() : 0; };
  std::unique_ptr<TruConnect> truconnect;
  ctx.app_notices = [&truconnect] {
    boost::json::array out;
    if (truconnect) {
      for (const auto& n : truconnect->notices()) out.push_back(n);
    }
    return out;
  };
  ctx.flagged_frames = [&flagged](const std::string& id, scale::FlagReason reason) {
    const auto it = flagged.find(id);
    return it == flagged.end() ? std::uint64_t{0} : it->second->count(reason);
  };
  const auto station = make_station_routes(config.station, ctx);
  ctx.routes.push_back(station.get());
  TicketRoutes tickets(ctx, config.ticket, &blobs);
  ctx.routes.push_back(&tickets);
  auto records = make_records_routes(config, outbox_options.signing_key, ctx);
  ctx.routes.push_back(records.get());
  ctx.routes.push_back(devices.get());
  Api api(std::move(ctx));
  Server server(ioc, api, config.live, config.limits);
  server_ptr = &server;
  pairing->on_revoked = [&server](const std::string& origin) { server.close_origin(origin); };
  auto listening = server.listen(config.listen_host, config.listen_port);
  if (!listening) {
    spdlog::error("{}", listening.error().message);
    return 1;
  }
  std::string bound = std::move(*listening);
  spdlog::info("weighlink-agent {} listening on http://{} (station {})", WEIGHLINK_VERSION, bound,
               config.station_id);
  boost::json::object ready{{"http", bound}};
  // Binds the compatibility ports not listening yet; false when one still fails. Each outcome
  // is logged once per change, so a retry every few seconds does not flood the log.
  auto bind_compat = [&] {
    bool all = true;
    for (std::size_t i = 0; i < compat_ports.size(); ++i) {
      auto& port = compat_ports[i];
      if (!port.listening.empty()) continue;
      auto bound_port = server.listen_truconnect(i == 0);
      if (!bound_port) {
        const std::string& failure = bound_port.error().message;
        port.listening.clear();
        if (failure != port.error && !port.error.empty()) spdlog::warn("{}", failure);
        port.error = failure;
        all = false;
        continue;
      }
      port.listening = std::move(*bound_port);
      if (!port.error.empty()) {
        spdlog::info("TruConnect compatibility: {} now listening on {}", port.key, port.listening);
      }
      port.error.clear();
      ready[i == 0 ? "truconnect_ws" : "truconnect_http"] = port.listening;
    }
    auto port_of = [](const ListenState& p) {
      const auto& a = p.listening.empty() ? p.address : p.listening;
      return a.substr(a.rfind(':') + 1);
    };
    truconnect->set_endpoints("ws://localhost:" + port_of(compat_ports[0]),
                              "http://localhost:" + port_of(compat_ports[1]) + "/api/v1");
    return all;
  };
  if (local_tls) {
    auto tls_bound = server.set_tls_certificate(local_tls->files.cert(), local_tls->files.key());
    auto tls_listening = tls_bound ? server.listen_tls(config.tls.host, config.tls.port)
                                   : base::Expected<std::string>(tls_bound.error());
    if (!tls_listening) {
      spdlog::error("tls: {}", tls_listening.error().message);
      return 1;
    }
    bound = std::move(*tls_listening);
    local_tls->loaded_sha256 = local_tls->state.leaf.sha256;
    local_tls->addresses["https"] = ready["https"] = bound;
    spdlog::info("serving https://{} and wss://{}/v1/live (certificate valid until {})", bound,
                 bound, scale::format_timestamp(local_tls->state.leaf.not_after));
  }
  if (config.truconnect.enabled) {
    if (config.scales.empty()) {
      spdlog::error("TruConnect compatibility needs a scale: configure one (--scale-source)");
      return 2;
    }
    truconnect = std::make_unique<TruConnect>(config.truconnect, captures, WEIGHLINK_VERSION);
    server.set_truconnect(*truconnect);
    truconnect->set_traffic(
        [d = devices.get()](const std::string& event, const boost::json::object& data) {
          return d->on_traffic(event, data);
        });
    if (!bind_compat()) {
      for (const auto& port : compat_ports) {
        if (!port.listening.empty()) continue;
        // Usually TruConnect itself, still installed and running on 3030/3031.
        const std::string what =
            port.error +
            "; is TruConnect (or another weighlink-agent) still running? Stop it, or "
            "move this port with " +
            port.key +
            ", or set compat.truconnect.optional: true to "
            "start without it";
        if (!config.truconnect.optional) {
          spdlog::error("{}", what);
          return 2;
        }
        spdlog::warn(
            "{}. compat.truconnect.optional is true: starting without it; /readyz "
            "answers 503 until it is bound, retried with backoff",
            what);
      }
    }
    spdlog::info(
        "TruConnect compatibility: socket {} and REST {}/api/v1 (scale {})",
        compat_ports[0].listening.empty() ? "not listening" : "ws://" + compat_ports[0].listening,
        compat_ports[1].listening.empty() ? "not listening" : "http://" + compat_ports[1].listening,
        truconnect->scale_id());
    if (local_tls) {
      auto tls_ports = server.listen_truconnect_tls(*truconnect);
      if (!tls_ports) {
        spdlog::error("{}", tls_ports.error().message);
        return 1;
      }
      const std::string& wss_bound = tls_ports->wss;
      const std::string& https_bound = tls_ports->https;
      local_tls->addresses["truconnect_wss"] = ready["truconnect_wss"] = wss_bound;
      local_tls->addresses["truconnect_https"] = ready["truconnect_https"] = https_bound;
      auto port_of = [](const std::string& a) { return a.substr(a.rfind(':') + 1); };
      truconnect->set_tls_endpoints("wss://localhost:" + port_of(wss_bound),
                                    "https://localhost:" + port_of(https_bound) + "/api/v1");
      spdlog::info("TruConnect compatibility over TLS: wss://{} and https://{}/api/v1", wss_bound,
                   https_bound);
    }
  }

  std::vector<std::unique_ptr<scale::ScaleReader>> readers;
  std::vector<std::unique_ptr<LatestReading>> handoffs;
  for (const auto& sc : config.scales) {
    scale::ScaleEvents events;
    auto* handoff = handoffs.emplace_back(std::make_unique<LatestReading>()).get();
    // On the io thread: the reading reaches the live state, the legal record, TruConnect, the
    // devices and the WebSocket clients.
    auto deliver = [&live, &server, tc = truconnect.get(), lg = legal.get(), dv = devices.get()](
                       const scale::Reading& r, std::uint64_t count) {
      live.on_reading(r, count);
      lg->on_reading(r);
      if (tc) tc->on_reading(r);
      dv->on_reading(r);
      server.publish_reading(r);
    };
    // A serial port is read on the io thread itself (one wake-up per frame); other sources keep
    // a reader thread and hand readings over through `handoff`.
    const bool on_io = scale::reads_on_io_thread(sc.source);
    events.on_reading = [&ioc, handoff, deliver, on_io,
                         flags = flagged.at(sc.id).get()](const scale::Reading& r) {
      // Every frame is counted here, before the hand-off coalesces readings.
      if (auto line = flags->note(r, std::chrono::steady_clock::now())) {
        spdlog::warn("{}", *line);
      }
      if (on_io) return deliver(r, 1);
      if (!handoff->put(r)) return;
      asio::post(ioc, [handoff, deliver] {
        if (auto next = handoff->take()) deliver(next->first, next->second);
      });
    };
    events.on_connection = [&ioc, &live, on_io, id = sc.id](bool connected,
                                                            const std::string& detail) {
      if (on_io) return live.on_connection(id, connected, detail);
      asio::post(ioc,
                 [&live, id, connected, detail] { live.on_connection(id, connected, detail); });
    };
    readers.push_back(std::make_unique<scale::ScaleReader>(sc, std::move(events), ioc));
  }

  asio::steady_timer status_timer(ioc);
  std::function<void()> tick = [&] {
    status_timer.expires_after(config.status_interval);
    status_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      // Decisions `weighlink-agent origins` stored meanwhile, and the pending counts written.
      pairing->poll(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
      (void)legal->check_settings();  // origin decisions made meanwhile
      server.publish_status();
      tick();
    });
  };
  tick();

  // Optional compatibility ports that could not be bound: tried again with capped backoff (the
  // other program may stop), the ready file rewritten once one is bound.
  asio::steady_timer compat_timer(ioc);
  std::uint32_t compat_attempt = 0;
  std::mt19937 compat_rng(std::random_device{}());
  std::function<void()> retry_compat = [&] {
    const auto delay = base::backoff_delay(kCompatBackoff, compat_attempt++,
                                           static_cast<std::uint32_t>(compat_rng()));
    compat_timer.expires_after(delay);
    compat_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const bool all = bind_compat();
      if (!config.ready_file.empty()) {
        if (const auto written = base::write_ready_file(config.ready_file, ready); !written) {
          spdlog::error("{}", written.error().message);
        }
      }
      if (!all) retry_compat();
    });
  };
  // The server certificate is checked every tls.check_interval: renewed when due, and loaded
  // when it changed on disk (`weighlink-agent tls renew`). New connections get the new one.
  asio::steady_timer tls_timer(ioc);
  std::function<void()> tls_check = [&] {
    tls_timer.expires_after(config.tls.check_interval);
    tls_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      EnsureOptions options;
      options.station_id = config.station_id;
      options.renew_before = config.tls.renew_before;
      options.create_missing_ca = false;  // a new CA would not be trusted: say so instead
      auto ensured = ensure_local_tls(local_tls->files, options, std::chrono::system_clock::now());
      const bool changed = ensured.state && ensured.state->leaf.sha256 != local_tls->loaded_sha256;
      const auto loaded =
          changed ? server.set_tls_certificate(local_tls->files.cert(), local_tls->files.key())
                  : base::Expected<void>();
      if (!ensured.state) {
        local_tls->last_error = ensured.error;
        spdlog::error("tls: {} (the current certificate is served until this is fixed)",
                      ensured.error);
      } else if (!loaded) {
        local_tls->last_error = loaded.error().message;
        spdlog::error("tls: {} (the previous certificate is served meanwhile)",
                      loaded.error().message);
      } else {
        local_tls->log(*ensured.state);
        if (ensured.state->leaf.sha256 != local_tls->loaded_sha256) {
          spdlog::info("tls: serving the certificate {} (valid until {}) to new connections",
                       ensured.state->leaf.sha256,
                       scale::format_timestamp(ensured.state->leaf.not_after));
          local_tls->loaded_sha256 = ensured.state->leaf.sha256;
        }
        local_tls->state = std::move(*ensured.state);
        local_tls->last_error.clear();
      }
      tls_check();
    });
  };
  if (local_tls) tls_check();

  // Under systemd (Type=notify, WatchdogSec) or the Windows service control manager: the
  // watchdog is fed from the event loop that serves the API and the live socket, so a loop that
  // stops turning gets the service restarted.
  std::unique_ptr<ServiceHost> default_host;
  if (!host) {
    default_host = make_notify_host();
    host = default_host.get();
  }
  asio::steady_timer watchdog_timer(ioc);
  std::function<void()> feed = [&] {
    host->watchdog();
    watchdog_timer.expires_after(*host->watchdog_period());
    watchdog_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) feed();
    });
  };

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  bool stopped = false;
  auto stop = [&](const std::string& why) {
    if (std::exchange(stopped, true)) return;
    spdlog::info("{}: stopping", why);
    host->stopping();
    signals.cancel();
    status_timer.cancel();
    tls_timer.cancel();
    watchdog_timer.cancel();
    compat_timer.cancel();
    server.stop();
    ioc.stop();
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (!ec) stop("signal " + std::to_string(signo) + " received");
  });

  if (replay) replay->start();
  devices->start();
  for (auto& r : readers) r->start();
  if (!config.ready_file.empty()) {
    if (const auto written = base::write_ready_file(config.ready_file, ready); !written) {
      spdlog::error("{}", written.error().message);
      return 1;
    }
  }
  host->set_stop([&ioc, &stop] { asio::post(ioc, [&stop] { stop("stop requested"); }); });
  host->ready("serving http://" + std::string(ready.at("http").as_string()));
  if (std::any_of(compat_ports.begin(), compat_ports.end(),
                  [](const ListenState& p) { return p.listening.empty(); })) {
    retry_compat();
  }
  if (host->watchdog_period()) feed();

  ioc.run();
  host->set_stop({});  // what it referred to ends here

  for (auto& r : readers) r->stop();
  devices->stop();
  if (replay) replay->stop();
  outbox->close();
  if (!config.ready_file.empty()) std::filesystem::remove(config.ready_file, ec);
  spdlog::info("weighlink-agent stopped");
  return 0;
}

}  // namespace weighlink::agent
