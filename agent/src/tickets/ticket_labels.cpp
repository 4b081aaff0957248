// The ticket's message catalogue, English and Swahili. Ids follow the operator page's catalogue
// (snake_case, "ticket." prefix); a reference field's label is "ticket.field.<id>".
#include <array>

#include "weighlink/agent/ticket.hpp"

namespace weighlink::agent {
namespace {

struct Label {
  std::string_view id, en, sw;
};

constexpr std::array kLabels{
    Label{"ticket.title", "Weighing ticket", "Tiketi ya upimaji"},
    Label{"ticket.record_id", "Record", "Rekodi"},
    Label{"ticket.captured_at", "Date and time (UTC)", "Tarehe na saa (UTC)"},
    Label{"ticket.plate", "Plate", "Namba ya gari"},
    Label{"ticket.transaction", "Transaction", "Muamala"},
    Label{"ticket.scale", "Scale", "Mizani"},
    Label{"ticket.operator", "Operator", "Mhudumu"},
    Label{"ticket.type", "Weighing", "Upimaji"},
    Label{"ticket.weight", "Weight", "Uzito"},
    Label{"ticket.gross", "Gross", "Uzito jumla"},
    Label{"ticket.tare", "Tare", "Uzito wa gari tupu"},
    Label{"ticket.net", "Net", "Uzito halisi"},
    Label{"ticket.first", "First weighing", "Upimaji wa kwanza"},
    Label{"ticket.stored_tare", "Stored tare", "Tare iliyohifadhiwa"},
    Label{"ticket.pass", "Pass", "Mzunguko"},
    Label{"ticket.deck", "Deck", "Sehemu"},
    Label{"ticket.axle", "Axle", "Ekseli"},
    Label{"ticket.hash", "Record hash", "Alama ya rekodi"},
    Label{"ticket.software", "Software", "Programu"},
    Label{"ticket.audit_counter", "Audit counter", "Kihesabu cha ukaguzi"},
    Label{"ticket.print_number", "Print", "Nakala namba"},
    Label{"ticket.original", "ORIGINAL", "HALISI"},
    Label{"ticket.duplicate", "DUPLICATE", "NAKALA"},
    Label{"ticket.static", "Static", "Tuli"},
    Label{"ticket.axle_weighing", "Axle by axle", "Ekseli moja moja"},
    Label{"ticket.mode.two_pass", "Two-pass", "Mara mbili"},
    Label{"ticket.mode.stored_tare", "Stored tare", "Tare iliyohifadhiwa"},
    Label{"ticket.mode.tare", "Tare weighing", "Upimaji wa tare"},
    Label{"ticket.field.customer", "Customer", "Mteja"},
    Label{"ticket.field.product", "Product", "Bidhaa"},
    Label{"ticket.field.direction", "Direction", "Mwelekeo"},
    Label{"ticket.field.driver", "Driver", "Dereva"},
    Label{"ticket.field.order", "Order", "Oda"},
    Label{"ticket.field.ticket", "Ticket", "Tiketi"},
    Label{"ticket.field.haulier", "Haulier", "Msafirishaji"},
};

}  // namespace

std::optional<std::string> ticket_label(std::string_view id, std::string_view language) {
  for (const auto& l : kLabels) {
    if (l.id == id) return std::string(language == "sw" ? l.sw : l.en);
  }
  return std::nullopt;
}

}  // namespace weighlink::agent
