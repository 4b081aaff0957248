// The ticket model of one recorded weighing (docs/tickets.md). Every weight is the recorded text,
// never recomputed: the ticket shows what the record holds.
#include "weighlink/agent/ticket.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;
namespace {

// A member as the ticket shows it: strings as they are, numbers as written, others as JSON.
std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (auto n = record::number_text(v)) return *n;
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_null()) return "";
  return record::serialize_exact(v);
}

std::string member(const json::object* o, std::string_view name) {
  if (!o) return "";
  const auto* v = o->if_contains(name);
  return v ? text_of(*v) : std::string();
}

const json::object* object_member(const json::object* o, std::string_view name) {
  if (!o) return nullptr;
  const auto* v = o->if_contains(name);
  return v && record::is_json_object(*v) ? &v->as_object() : nullptr;
}

class Builder {
 public:
  explicit Builder(std::string_view language) : lang_(language) {}

  std::string label(std::string_view id) const {
    return ticket_label(id, lang_).value_or(std::string(id));
  }
  // A reference field: the catalogue's label when it has one, the field's id otherwise.
  std::string field_label(const std::string& id) const {
    if (auto l = ticket_label("ticket.field." + id, lang_)) return *l;
    return id;
  }
  void row(Ticket& t, const std::string& id, std::string value) const {
    if (value.empty()) return;
    t.fields.push_back(
        {id, id.starts_with("reference.") ? field_label(id.substr(10)) : label("ticket." + id),
         std::move(value)});
  }
  void weight(Ticket& t, const std::string& id, const std::string& value,
              const std::string& unit) const {
    if (value.empty()) return;
    t.weights.push_back({id, label("ticket." + id), unit.empty() ? value : value + " " + unit});
  }

 private:
  std::string lang_;
};

std::string transaction_text(const Builder& b, const json::object* tx) {
  if (!tx) return "";
  std::string out = member(tx, "id");
  const auto mode = member(tx, "mode");
  if (!mode.empty()) out += " (" + b.label("ticket.mode." + mode);
  const auto pass = member(tx, "pass");
  if (!mode.empty() && !pass.empty()) out += ", " + b.label("ticket.pass") + " " + pass;
  if (!mode.empty()) out += ")";
  return out;
}

void add_parts(Ticket& t, const Builder& b, const json::object& p, const std::string& unit) {
  const auto* decks = p.if_contains("decks");
  const auto* axles = p.if_contains("axles");
  const json::value* parts = axles && axles->is_array() ? axles : decks;
  if (!parts || !parts->is_array() || parts->as_array().empty()) return;
  const bool is_axles = parts == axles;
  t.parts_kind = is_axles ? "axles" : "decks";
  t.parts_columns = {b.label(is_axles ? "ticket.axle" : "ticket.deck"), b.label("ticket.weight")};
  std::size_t i = 0;
  for (const auto& v : parts->as_array()) {
    ++i;
    const auto* o = record::is_json_object(v) ? &v.as_object() : nullptr;
    auto number = member(o, is_axles ? "number" : "index");
    if (number.empty()) number = member(o, "id");
    if (number.empty()) number = std::to_string(i);
    const auto w = member(o, "weight");
    t.parts_rows.push_back({number, unit.empty() ? w : w + " " + unit});
  }
}

}  // namespace

Ticket build_ticket(const TicketInput& in, const TicketConfig& layout, std::string_view language,
                    const TicketPrint& print) {
  const std::string lang = language == "sw" ? "sw" : "en";
  const Builder b(lang);
  const json::object* p = in.payload;
  Ticket t;
  t.seq = in.seq;
  t.record_id = in.station_id + "/" + std::to_string(in.seq);
  t.language = lang;
  t.paper = layout.paper;
  t.title = b.label("ticket.title");
  t.header = layout.header;
  t.footer = layout.footer;
  t.logo = !layout.logo_jpeg.empty();
  const auto* reference = object_member(p, "reference");
  const auto* tx = object_member(p, "transaction");
  const auto unit = member(p, "unit");

  // Reference fields named in the layout are not repeated under "reference".
  std::vector<std::string> named;
  for (const auto& f : layout.fields) named.push_back(f);
  for (const auto& f : layout.fields) {
    if (f == "record_id") {
      b.row(t, f, t.record_id);
    } else if (f == "captured_at" || f == "scale" || f == "operator") {
      b.row(t, f, member(p, f));
    } else if (f == "type") {
      const auto type = member(p, "type");
      b.row(t, f,
            type == "axle" ? b.label("ticket.axle_weighing")
                           : (type == "static" ? b.label("ticket.static") : type));
    } else if (f == "plate") {
      b.row(t, f, member(reference, "plate"));
    } else if (f == "transaction") {
      b.row(t, f, transaction_text(b, tx));
    } else if (f == "reference") {
      if (!reference) continue;
      for (const auto& kv : *reference) {
        const std::string id(kv.key());
        if (id == "plate" || std::find(named.begin(), named.end(), id) != named.end()) continue;
        b.row(t, "reference." + id, text_of(kv.value()));
      }
    } else {
      b.row(t, "reference." + f, member(reference, f));
    }
  }

  // Weights: a closed transaction's gross, tare and net; otherwise the weighing's weight.
  const auto net = member(tx, "net");
  if (!net.empty()) {
    const auto tx_unit = member(tx, "unit").empty() ? unit : member(tx, "unit");
    if (const auto* first = object_member(tx, "first")) {
      b.weight(t, "first", member(first, "weight"), tx_unit);
    }
    if (const auto* stored = object_member(tx, "stored_tare")) {
      b.weight(t, "stored_tare", member(stored, "weight"), member(stored, "unit"));
    }
    b.weight(t, "gross", member(tx, "gross"), tx_unit);
    b.weight(t, "tare", member(tx, "tare"), tx_unit);
    b.weight(t, "net", net, tx_unit);
  } else {
    b.weight(t, "weight", member(p, "weight"), unit);
  }
  if (p) add_parts(t, b, *p, unit);

  t.hash_prefix = in.record_hash.substr(0, 16);
  t.legal.push_back({"hash", b.label("ticket.hash"), t.hash_prefix});
  if (const auto* sw = object_member(p, "software")) {
    t.software = member(sw, "name") + " " + member(sw, "version");
    const auto sha = member(sw, "sha256");
    if (!sha.empty()) t.software += " sha256:" + sha.substr(0, 16);
    t.legal.push_back({"software", b.label("ticket.software"), t.software});
  }
  if (const auto* c = p ? p->if_contains("audit_counter") : nullptr) {
    if (auto n = record::exact_int64(*c)) {
      t.audit_counter = *n;
      t.legal.push_back({"audit_counter", b.label("ticket.audit_counter"), std::to_string(*n)});
    }
  }
  t.print_number = print.number;
  t.copy = print.copy();
  t.copy_label = b.label("ticket." + t.copy);
  return t;
}

namespace {

json::array images_json(const std::vector<TicketImage>& images) {
  json::array out;
  for (const auto& i : images) {
    json::object o{{"camera", i.camera}};
    if (i.sha256.empty()) {
      o["status"] = "missing";
      o["reason"] = i.reason;
    } else {
      o["status"] = "ok";
      o["sha256"] = i.sha256;
      o["sha_prefix"] = i.sha_prefix;
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::string text_member(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::vector<TicketImage> ticket_images(const json::object& images_payload) {
  std::vector<TicketImage> out;
  const auto* list = images_payload.if_contains("images");
  if (!list || !list->is_array()) return out;
  for (const auto& v : list->as_array()) {
    if (!v.is_object()) continue;
    const auto& o = v.as_object();
    TicketImage i{text_member(o, "camera"), {}, {}, text_member(o, "reason")};
    // An axle's still (an axle weighing's): the camera and the axle's number, in any language.
    if (const auto* axle = o.if_contains("axle"); axle && axle->is_int64()) {
      i.camera += " #" + std::to_string(axle->as_int64());
    }
    if (text_member(o, "status") == "ok") {
      i.sha256 = text_member(o, "sha256");
      i.sha_prefix = i.sha256.substr(0, 16);
    }
    out.push_back(std::move(i));
  }
  return out;
}

json::object to_json(const Ticket& t) {
  const auto rows = [](const std::vector<TicketRow>& in) {
    json::array out;
    for (const auto& r : in) {
      out.push_back(json::object{{"id", r.id}, {"label", r.label}, {"value", r.value}});
    }
    return out;
  };
  const auto lines = [](const std::vector<std::string>& in) {
    json::array out;
    for (const auto& l : in) out.push_back(json::string(l));
    return out;
  };
  json::object o{
      {"seq", t.seq},
      {"record_id", t.record_id},
      {"language", t.language},
      {"paper", t.paper},
      {"title", t.title},
      {"logo", t.logo},
      {"images", images_json(t.images)},
      {"header", lines(t.header)},
      {"footer", lines(t.footer)},
      {"fields", rows(t.fields)},
      {"weights", rows(t.weights)},
      {"legal", rows(t.legal)},
      {"hash_prefix", t.hash_prefix},
      {"software", t.software.empty() ? json::value(nullptr) : json::value(t.software)},
      {"audit_counter", t.audit_counter ? json::value(*t.audit_counter) : json::value(nullptr)},
      {"copy", t.copy},
      {"copy_label", t.copy_label},
      {"print_number", t.print_number}};
  if (t.parts_kind.empty()) {
    o["parts"] = nullptr;
  } else {
    json::array prow;
    for (const auto& r : t.parts_rows) prow.push_back(lines(r));
    o["parts"] = json::object{
        {"kind", t.parts_kind}, {"columns", lines(t.parts_columns)}, {"rows", std::move(prow)}};
  }
  return o;
}

}  // namespace weighlink::agent
