#pragma once
// The connection to one printer (an adapter per way of reaching it): its state, and sending one
// job's document. Blocking calls, made on the printer's own thread only (printers.cpp), never on
// the io thread. Threading: one thread per link.

#include <memory>
#include <string>

#include "weighlink/agent/printer/escpos.hpp"
#include "weighlink/agent/printer_config.hpp"

namespace weighlink::agent::printer {

struct SendResult {
  bool written = false;  // every byte reached the printer (CUPS: the job completed)
  std::string detail;    // why not
};

class PrinterLink {
 public:
  virtual ~PrinterLink() = default;
  // The printer's state now, connecting first when not connected. A printer that does not
  // answer within the status timeout is offline.
  [[nodiscard]] virtual PrinterStatus probe() = 0;
  // Sends one document (ESC/POS bytes, or a PDF for CUPS) titled `title`.
  [[nodiscard]] virtual SendResult send(const std::string& document, const std::string& title) = 0;
  // Wakes a send or probe waiting on the printer (the agent is stopping). Any thread.
  virtual void interrupt() {}
};

// ESC/POS over serial, a USB printer device file or TCP (link_escpos.cpp).
[[nodiscard]] std::unique_ptr<PrinterLink> make_escpos_link(const PrinterConfig& config);
// A CUPS queue through libcups (link_cups.cpp); not on Windows (refused at config load).
[[nodiscard]] std::unique_ptr<PrinterLink> make_cups_link(const PrinterConfig& config);

}  // namespace weighlink::agent::printer
