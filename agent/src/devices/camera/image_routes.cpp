// The image routes (image_routes.hpp).
#include "devices/camera/image_routes.hpp"

#include <boost/json.hpp>

#include "core/api_common.hpp"
#include "weighlink/agent/camera/capture_images.hpp"
#include "weighlink/agent/weighings.hpp"

namespace weighlink::agent::camera {
namespace {

namespace json = boost::json;
using api::json_response;
using api::parse_payload;

constexpr std::string_view kImages = "/v1/images/";
constexpr std::string_view kWeighings = "/v1/weighings/";
constexpr std::string_view kImagesSuffix = "/images";
// Images records are written within seconds of their weighing: this many records after it are
// searched when the outbox's key lookup does not find it (archived).
constexpr std::uint64_t kSearchAhead = 500;

std::optional<std::uint64_t> parse_seq(std::string_view text) {
  const auto v = parse_count(text);
  return v && *v > 0 ? v : std::nullopt;
}

bool is_record_of(const sync::OutboxRow& row, std::uint64_t seq) {
  if (row.kind != kCaptureImagesKind) return false;
  const auto payload = parse_payload(row.payload_json);
  const auto* w = payload.is_object() ? payload.as_object().if_contains("weighing") : nullptr;
  const auto* s = w && w->is_object() ? w->as_object().if_contains("seq") : nullptr;
  return s && s->is_number() && s->to_number<std::uint64_t>() == seq;
}

// The images record with its seq, and the stills of the weighing's axles (listed in its
// `axle_images`) appended to `images`, each with its axle's number.
json::object with_seq(sync::Outbox& outbox, const sync::OutboxRow& row) {
  auto payload = parse_payload(row.payload_json);
  json::object out = payload.is_object() ? payload.as_object() : json::object{};
  out["images_seq"] = row.seq;
  const auto* axles = out.if_contains("axle_images");
  auto* images = out.if_contains("images");
  if (!axles || !axles->is_array() || !images || !images->is_array()) return out;
  json::array merged = images->as_array();
  for (const auto& a : axles->as_array()) {
    const auto* o = a.if_object();
    const auto* key = o ? o->if_contains("images_key") : nullptr;
    if (!key || !key->is_string()) continue;
    const auto axle_row = outbox.find(std::string(key->as_string()));
    if (!axle_row || axle_row->kind != kCaptureImagesKind) continue;
    const auto axle = parse_payload(axle_row->payload_json);
    const auto* list = axle.is_object() ? axle.as_object().if_contains("images") : nullptr;
    if (!list || !list->is_array()) continue;
    for (const auto& image : list->as_array()) {
      if (!image.is_object()) continue;
      auto entry = image.as_object();
      entry["axle"] = o->at("number");
      merged.push_back(std::move(entry));
    }
  }
  out["images"] = std::move(merged);
  return out;
}

}  // namespace

std::optional<json::object> weighing_images(sync::Outbox& outbox, std::uint64_t seq) {
  auto weighing = outbox.records(seq, seq, 1);
  if (weighing.empty() || weighing.front().row.kind != "weighing.captured") return std::nullopt;
  if (auto row = outbox.find(images_key(weighing.front().row.idempotency_key));
      row && is_record_of(*row, seq)) {
    return with_seq(outbox, *row);
  }
  for (const auto& r : outbox.records(seq + 1, seq + kSearchAhead, kSearchAhead)) {
    if (is_record_of(r.row, seq)) return with_seq(outbox, r.row);
  }
  return std::nullopt;
}

bool handle_image_routes(sync::Outbox& outbox, const sync::BlobStore& blobs,
                         const HttpRequest& request, const std::string& path,
                         const std::string& correlation_id, Respond& respond) {
  const bool image = path.starts_with(kImages);
  const bool weighing = path.starts_with(kWeighings) && path.ends_with(kImagesSuffix);
  if (!image && !weighing) return false;
  if (request.method != "GET") {
    respond(error_response(405, "method_not_allowed",
                           request.method + " is not allowed on " + path + "; use GET",
                           correlation_id));
    return true;
  }
  if (image) {
    const auto sha = path.substr(kImages.size());
    if (!sync::is_sha256_hex(sha)) {
      respond(error_response(404, "not_found",
                             "no such resource: " + path +
                                 " (images are /v1/images/{sha256}, 64 lower-case hex digits)",
                             correlation_id));
      return true;
    }
    auto bytes = blobs.get(sha);
    if (!bytes) {
      const bool missing = bytes.error().code == std::errc::no_such_file_or_directory;
      respond(error_response(missing ? 404 : 409, missing ? "image_not_found" : "image_altered",
                             bytes.error().message, correlation_id));
      return true;
    }
    HttpResponse r;
    r.content_type = std::string(kJpeg);
    r.body = std::move(*bytes);
    // Content-addressed: the bytes behind a name never change.
    r.headers.emplace_back("Cache-Control", "private, max-age=31536000, immutable");
    respond(std::move(r));
    return true;
  }
  auto middle = std::string_view(path).substr(kWeighings.size());
  middle.remove_suffix(kImagesSuffix.size());
  const auto seq = parse_seq(middle);
  if (!seq) {
    respond(error_response(404, "not_found",
                           "no such resource: " + path + " (use /v1/weighings/{seq}/images)",
                           correlation_id));
    return true;
  }
  auto found = weighing_images(outbox, *seq);
  json::object body{{"seq", *seq}};
  if (found) {
    body["images"] = found->at("images");
    body["images_seq"] = found->at("images_seq");
    body["taken"] = true;
  } else {
    body["images"] = json::array{};
    body["taken"] = false;
  }
  respond(json_response(200, body));
  return true;
}

}  // namespace weighlink::agent::camera
