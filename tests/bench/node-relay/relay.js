#!/usr/bin/env node
// A minimal stand-in for TruConnect's weight pipeline, the baseline of bench_live
// (docs/performance.md, "Live socket latency"): read the indicator's pty as raw bytes, split
// frames on CR, decode the Mettler Toledo continuous frame, and broadcast one `weights` message
// (TruConnect's multideck shape, truconnect-protocol.md §1.7) per frame to every WebSocket client,
// serialized once per frame as TruConnect's broadcast does. Loopback only.
//
// Usage: node relay.js --device PATH [--port 0] [--ready-file FILE]
// The ready file gets {"http":"127.0.0.1:PORT"} once listening, as weighlink-agent writes it.
"use strict";

const fs = require("fs");
const tty = require("tty");
const { WebSocketServer, WebSocket } = require("ws");

function parseArgs(argv) {
  const args = { device: "", port: 0, readyFile: "" };
  for (let i = 2; i + 1 < argv.length; i += 2) {
    if (argv[i] === "--device") args.device = argv[i + 1];
    else if (argv[i] === "--port") args.port = Number(argv[i + 1]);
    else if (argv[i] === "--ready-file") args.readyFile = argv[i + 1];
    else throw new Error(`unknown flag ${argv[i]}`);
  }
  if (!args.device) throw new Error("--device PATH is required (the pty or serial port to read)");
  return args;
}

// STX SWA SWB SWC W6 T6 (the CR was split off). Returns kg, or null for anything else.
function decodeToledo(frame) {
  const stx = frame.indexOf(0x02);
  if (stx < 0 || frame.length - stx < 16) return null;
  const swa = frame[stx + 1] & 0x7f;
  const swb = frame[stx + 2] & 0x7f;
  let digits = 0;
  for (let i = stx + 4; i < stx + 10; i++) {
    const c = frame[i] & 0x7f;
    if (c < 0x30 || c > 0x39) return null;
    digits = digits * 10 + (c - 0x30);
  }
  const code = swa & 0x07;
  let weight = code <= 2 ? digits * 10 ** (2 - code) : digits / 10 ** (code - 2);
  if (swb & 0x02) weight = -weight;
  return { weight, motion: (swb & 0x08) !== 0 };
}

function weightsMessage(reading) {
  const gvw = reading.weight;
  const stable = !reading.motion;
  // One deck carries the load, as a single-deck indicator feeding a multideck page does.
  const decks = [gvw, 0, 0, 0];
  return JSON.stringify({
    event: "weights",
    data: {
      mode: "multideck",
      deck1: decks[0],
      deck2: decks[1],
      deck3: decks[2],
      deck4: decks[3],
      decks: decks.map((weight, i) => ({ index: i + 1, weight, stable: true })),
      gvw,
      vehicleOnDeck: gvw > 50,
      stable,
      simulation: false,
      indicatorInfo: { make: "Mettler Toledo", model: "IND570", signalStrength: 100 },
      connection: {
        source: "indicator",
        protocol: "mt-continuous",
        type: "serial",
        connected: true,
        outputMode: "websocket",
        device: { make: "Mettler Toledo", model: "IND570", capacity: 80000 },
      },
    },
    timestamp: new Date().toISOString(),
  });
}

function main() {
  const args = parseArgs(process.argv);
  const wss = new WebSocketServer({ host: "127.0.0.1", port: args.port });

  function broadcast(message) {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(message);
    }
  }

  let pending = Buffer.alloc(0);
  function onData(chunk) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    let cr;
    while ((cr = pending.indexOf(0x0d, start)) >= 0) {
      const reading = decodeToledo(pending.subarray(start, cr));
      if (reading) broadcast(weightsMessage(reading));
      start = cr + 1;
    }
    pending = pending.subarray(start);
  }

  const fd = fs.openSync(args.device, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  // A pty or serial port is a tty: read it through libuv's event loop, raw, as the serialport
  // package does, rather than with blocking reads on the thread pool.
  const input = tty.isatty(fd) ? new tty.ReadStream(fd) : fs.createReadStream(null, { fd });
  if (input.setRawMode) input.setRawMode(true);
  input.on("data", onData);
  input.on("error", (err) => {
    console.error(`relay: reading ${args.device} failed: ${err.message}`);
    process.exit(1);
  });

  wss.on("listening", () => {
    const { port } = wss.address();
    console.log(`relay: listening on ws://127.0.0.1:${port}/, reading ${args.device}`);
    if (args.readyFile) {
      const tmp = `${args.readyFile}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ http: `127.0.0.1:${port}` }) + "\n");
      fs.renameSync(tmp, args.readyFile);
    }
  });
  wss.on("error", (err) => {
    console.error(`relay: cannot listen: ${err.message}`);
    process.exit(1);
  });

  const stop = () => {
    input.destroy();
    for (const client of wss.clients) client.terminate();
    wss.close(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
