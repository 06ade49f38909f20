// A long-lived snarkjs Groth16 prover: keeps the BN254 curve (and its worker threads) and
// every loaded zkey in memory, so a proof costs the proving work only, not Node's start-up.
//
// Run by prover/backends/snarkjs_worker.py with the project's node_modules on NODE_PATH.
// Protocol: one JSON object per line on stdin, one JSON reply per line on stdout, in order.
//   {"op":"load","circuit":c,"zkey":path,"sha256":hex,"vkey":{...}} -> {"ok":true}
//       reads the zkey once and refuses it unless its SHA-256 is `sha256` (the manifest's).
//   {"op":"prove","circuit":c,"wtns":base64}  -> {"ok":true,"proof":{...},"public":["..."]}
//       the witness stays in memory ({type:"mem"}); it never touches a file.
//   {"op":"verify","circuit":c,"proof":{...},"public":["..."]} -> {"ok":true,"valid":bool}
//   {"op":"ping"} -> {"ok":true,"pid":n}
// Failures reply {"ok":false,"error":"one line"}. End of stdin ends the process, so the
// worker never outlives the Python process that owns the pipe.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const readline = require("readline");
const snarkjs = require("snarkjs");

// stdout carries replies only: anything a library logs goes to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const keys = new Map(); // circuit -> { zkey: Uint8Array, vkey: object }

function key(circuit) {
  const entry = keys.get(circuit);
  if (!entry) throw new Error(`circuit ${circuit} is not loaded`);
  return entry;
}

async function handle(req) {
  switch (req.op) {
    case "ping":
      return { pid: process.pid };
    case "load": {
      const data = fs.readFileSync(req.zkey);
      const digest = crypto.createHash("sha256").update(data).digest("hex");
      if (digest !== req.sha256) {
        throw new Error(`zkey of circuit ${req.circuit} (${req.zkey}) has sha256 ${digest.slice(0, 16)}…, the manifest says ${String(req.sha256).slice(0, 16)}…: refusing it; run \`zkmargin setup\``);
      }
      keys.set(req.circuit, { zkey: new Uint8Array(data), vkey: req.vkey });
      return {};
    }
    case "prove": {
      const { zkey } = key(req.circuit);
      const wtns = new Uint8Array(Buffer.from(req.wtns, "base64"));
      const { proof, publicSignals } = await snarkjs.groth16.prove(
        { type: "mem", data: zkey },
        { type: "mem", data: wtns },
      );
      wtns.fill(0);
      return { proof, public: publicSignals };
    }
    case "verify": {
      const { vkey } = key(req.circuit);
      return { valid: await snarkjs.groth16.verify(vkey, req.public, req.proof) };
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

let queue = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let req;
    try {
      req = JSON.parse(line);
    } catch (err) {
      reply({ ok: false, error: "request is not JSON" });
      return;
    }
    try {
      reply({ ok: true, ...(await handle(req)) });
    } catch (err) {
      const message = String((err && err.message) || err).split("\n")[0];
      reply({ ok: false, error: message });
    }
  });
});
// EOF: the owner closed the pipe or died. Finish what is queued, then exit (process.exit
// also stops the curve's worker threads, which would otherwise keep Node alive).
lines.on("close", () => {
  queue.then(() => process.exit(0));
});
