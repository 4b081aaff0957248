#pragma once
// The camera images for the operator page and the ticket: GET /v1/images/{sha256} (the JPEG from
// the BlobStore, checked against its name) and GET /v1/weighings/{seq}/images (the images record
// of that weighing). Threading: io thread (a blob is read from the local disk).

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "weighlink/agent/api.hpp"
#include "weighlink/sync/blob_store.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent::camera {

// True when `path` is one of the two routes (then `respond` was called once).
bool handle_image_routes(sync::Outbox& outbox, const sync::BlobStore& blobs,
                         const HttpRequest& request, const std::string& path,
                         const std::string& correlation_id, Respond& respond);

// The weighlink.capture_images record of the weighing with `seq` (trigger capture): its payload
// with the record's own seq added as "images_seq"; nullopt when the weighing has none (no camera,
// or not yet written).
[[nodiscard]] std::optional<boost::json::object> weighing_images(sync::Outbox& outbox,
                                                                 std::uint64_t seq);

}  // namespace weighlink::agent::camera
