// A Solana JSON-RPC endpoint on loopback whose bank is litesvm (Solana's runtime, with
// signature verification): the few methods a sender uses, so `chainsig sol send` runs against
// Solana's own transaction processing exactly as against a real RPC node.
//
// Usage: node litesvm-rpc.cjs <test-tools dir> [port]; prints {"port": N} once listening (port 0
// or none: any free one). `chainsig devnet --with solana` writes this file (embedded in the
// binary) into its directory and runs it; the tests run it from here. The bank lives in memory:
// a restarted RPC starts from an empty ledger.
"use strict";
const http = require("node:http");
const path = require("node:path");
const modules = path.resolve(process.argv[2], "node_modules");
const { LiteSVM, FailedTransactionMetadata } = require(path.join(modules, "litesvm"));
const kit = require(path.join(modules, "@solana/kit"));

const svm = new LiteSVM();
const decodeTx = kit.getTransactionDecoder();
const base58 = kit.getBase58Decoder();
const landed = new Map(); // signature -> error (null when it succeeded)

function signatureOf(tx) {
  const first = Object.values(tx.signatures)[0];
  return first ? base58.decode(first) : null;
}

const methods = {
  getLatestBlockhash: () => ({
    context: { slot: 1 },
    value: { blockhash: svm.latestBlockhash(), lastValidBlockHeight: 300 },
  }),
  getBalance: ([addr]) => ({
    context: { slot: 1 },
    value: Number(svm.getBalance(kit.address(addr)) ?? 0n),
  }),
  requestAirdrop: ([addr, amount]) => {
    const r = svm.airdrop(kit.address(addr), kit.lamports(BigInt(amount)));
    if (r instanceof FailedTransactionMetadata) throw { code: -32002, message: r.toString() };
    return "airdrop";
  },
  sendTransaction: ([encoded]) => {
    let tx;
    try {
      tx = decodeTx.decode(Buffer.from(encoded, "base64"));
    } catch (e) {
      throw { code: -32602, message: `failed to deserialize transaction: ${e.message}` };
    }
    let r;
    try {
      r = svm.sendTransaction(tx);
    } catch (e) {
      throw { code: -32003, message: `transaction rejected: ${e.message}` };
    }
    if (r instanceof FailedTransactionMetadata) {
      throw { code: -32002, message: `Transaction simulation failed: ${r.toString()}` };
    }
    const sig = signatureOf(tx);
    landed.set(sig, null);
    return sig;
  },
  getSignatureStatuses: ([sigs]) => ({
    context: { slot: 1 },
    value: sigs.map((s) =>
      landed.has(s)
        ? { slot: 1, confirmations: null, err: landed.get(s), confirmationStatus: "finalized" }
        : null,
    ),
  }),
};

const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    let id = null;
    let reply;
    try {
      const call = JSON.parse(body);
      id = call.id ?? null;
      const method = methods[call.method];
      if (!method) throw { code: -32601, message: `Method not found: ${call.method}` };
      reply = { jsonrpc: "2.0", id, result: method(call.params ?? []) };
    } catch (e) {
      const error = e && e.code ? e : { code: -32603, message: String(e && e.message ? e.message : e) };
      reply = { jsonrpc: "2.0", id, error };
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(reply));
  });
});
const port = Number(process.argv[3] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`not a port: ${process.argv[3]}`);
  process.exit(2);
}
server.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
// The devnet stops its children with SIGTERM: nothing to save (the bank is in memory).
process.on("SIGTERM", () => process.exit(0));
