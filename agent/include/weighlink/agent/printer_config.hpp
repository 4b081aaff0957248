#pragma once
// The `printers:` section of the configuration (docs/configuration.md, "Ticket printers"): the
// station's ticket printers, ESC/POS (serial, USB printer device, TCP 9100) or CUPS (PDF).
// Threading: plain values.

#include <chrono>
#include <string>
#include <vector>

namespace weighlink::agent {

struct PrinterConfig {
  std::string id;
  std::string type;       // escpos | cups
  std::string transport;  // escpos: serial | usb | tcp
  std::string port;       // serial: a device with optional settings, "/dev/ttyUSB0?baud=19200"
  std::string device;     // usb: the printer device file, /dev/usb/lp0
  std::string address;    // tcp: HOST:PORT (port 9100 when left out)
  std::string queue;      // cups: the queue's name
  std::string server;     // cups: HOST:PORT of the CUPS server; empty: CUPS_SERVER or the default
  std::string paper = "80mm";       // escpos: 80mm (48 columns) | 58mm (32)
  bool auto_print = false;          // print each recorded weighing of `scales`
  int copies = 1;                   // auto-print: the first is the original, the rest duplicates
  std::vector<std::string> scales;  // auto-print: these scales only; empty = every scale
  bool qr = true;                   // escpos: the record id as a QR code
  // A status query (DLE EOT) unanswered this long: the printer is offline.
  std::chrono::milliseconds status_timeout{1000};
  // How often an idle printer's state is asked (and a waiting job tried again).
  std::chrono::milliseconds poll_interval{2000};
};

struct PrintersConfig {
  std::vector<PrinterConfig> printers;
};

}  // namespace weighlink::agent
