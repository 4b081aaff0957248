#pragma once
// Weighing tickets (docs/tickets.md): the layout a station configures (ticket:), the ticket model
// built from a recorded weighing, its labels in English and Swahili, and the ticket as a PDF.
// Pure functions: no clock, no outbox, no file reads (the logo's bytes are read at start).
// Threading: free functions and plain structs, safe from any thread.

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weighlink::agent {

// The `ticket:` section of the configuration.
struct TicketConfig {
  std::vector<std::string> header;  // lines above the fields (station name, address, ...)
  std::vector<std::string> footer;  // lines below them
  std::filesystem::path logo_file;  // a JPEG, checked at start; empty = none
  std::string logo_jpeg;            // its bytes, read at start
  // The field rows in order (ids as kTicketFieldIds, or a reference field's id); the weights, the
  // record hash, the software id, the audit counter and the copy mark are always printed.
  std::vector<std::string> fields = {"record_id",   "captured_at", "plate",   "reference",
                                     "transaction", "scale",       "operator"};
  std::string paper = "a4";  // a4 | 80mm
  std::string language;      // en | sw; empty = en (the station's language when one is set)
};

inline constexpr std::size_t kMaxLogoBytes = std::size_t{512} * 1024;
inline constexpr std::size_t kMaxTicketLines = 20;  // header or footer lines
// Field ids with a meaning of their own; "reference" = every reference value not named
// elsewhere in the list, in the record's order.
inline constexpr std::string_view kTicketFieldIds[] = {
    "record_id", "captured_at", "plate", "reference", "transaction", "scale", "operator", "type"};

// The label of `id` ("ticket.net", "ticket.field.customer") in `language` (en | sw; others: en);
// nullopt when the catalogue has no such id.
[[nodiscard]] std::optional<std::string> ticket_label(std::string_view id,
                                                      std::string_view language);

struct TicketRow {
  std::string id;
  std::string label;
  std::string value;
};

// A camera image of the weighing (docs/devices.md, "Camera evidence"), or why there is none.
struct TicketImage {
  std::string camera;
  std::string sha256;      // empty when missing
  std::string sha_prefix;  // first 16 hex, printed under the image
  std::string reason;      // missing: why (deadline, http 401, ...)
};

struct Ticket {
  std::uint64_t seq = 0;
  std::string record_id;  // <station>/<seq>
  std::string language;
  std::string paper;
  std::string title;
  std::vector<std::string> header, footer;
  std::vector<TicketRow> fields;
  std::vector<TicketRow> weights;  // value with its unit ("12340 kg"), exactly as recorded
  // Decks or axles: kind "decks" | "axles" (empty: none), a header row and one row each.
  std::string parts_kind;
  std::vector<std::string> parts_columns;
  std::vector<std::vector<std::string>> parts_rows;
  std::vector<TicketRow> legal;  // record hash prefix, software id, audit counter
  std::string hash_prefix;       // first 16 hex of the record hash
  std::string software;          // "weighlink-agent 1.2.3 sha256:0123456789abcdef"; empty = none
  std::optional<std::int64_t> audit_counter;
  std::string copy;                // original | duplicate
  std::string copy_label;          // ORIGINAL / DUPLICATE in the ticket's language
  std::uint64_t print_number = 0;  // 0: not printed yet
  bool logo = false;
  std::vector<TicketImage> images;  // the cameras' stills, in camera order
};

// What one print of the ticket is: its number (1 = the first) and whether it is the original.
struct TicketPrint {
  std::uint64_t number = 0;
  [[nodiscard]] std::string copy() const { return number <= 1 ? "original" : "duplicate"; }
};

struct TicketInput {
  std::uint64_t seq = 0;
  std::string station_id;
  std::string record_hash;
  const boost::json::object* payload = nullptr;  // the weighing.captured payload
};

// The ticket of one weighing. Reads the members it knows when present (reference, transaction,
// software, audit_counter, decks, axles) and works without them (records from before issue 19,
// a web app's captures).
[[nodiscard]] Ticket build_ticket(const TicketInput& input, const TicketConfig& layout,
                                  std::string_view language, const TicketPrint& print);

[[nodiscard]] boost::json::object to_json(const Ticket& ticket);

// The images of a weighing's weighlink.capture_images payload ("images"), for the ticket.
[[nodiscard]] std::vector<TicketImage> ticket_images(const boost::json::object& images_payload);

// The ticket as a PDF 1.4 document (Helvetica, WinAnsiEncoding; the logo and the camera images
// through DCTDecode). `image_jpegs[i]` are the bytes of ticket.images[i] (empty or unusable: the
// image is left out, its caption says so).
[[nodiscard]] std::string ticket_pdf(const Ticket& ticket, std::string_view logo_jpeg,
                                     const std::vector<std::string>& image_jpegs = {});

// True for a JPEG whose frame header (size, 1, 3 or 4 components) a PDF reader can place.
[[nodiscard]] bool is_usable_jpeg(std::string_view bytes);

}  // namespace weighlink::agent
