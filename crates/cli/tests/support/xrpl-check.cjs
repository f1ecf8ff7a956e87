// Checks a signed XRP Ledger transaction with xrpl.js (the XRP Ledger Foundation's library:
// ripple-binary-codec and ripple-keypairs underneath) and prints what it found as JSON:
// the decoded fields, whether the codec re-encodes them to the same bytes, whether the
// signature verifies under SigningPubKey over the signing data the codec computes, whether
// that key's address is the Account, whether `s` is low (rippled refuses the high twin),
// whether xrpl.js's transaction model accepts it, and the transaction hash.
//
// Usage: node xrpl-check.cjs <test-tools dir> <blob hex>
"use strict";
const path = require("node:path");
const xrpl = require(path.resolve(process.argv[2], "node_modules", "xrpl"));

const blob = process.argv[3];
const tx = xrpl.decode(blob);
let valid_model = true;
let model_error = null;
try {
  xrpl.validate(tx);
} catch (e) {
  valid_model = false;
  model_error = String(e.message || e);
}

// DER: 30 len 02 rlen r 02 slen s
const der = Buffer.from(tx.TxnSignature, "hex");
const rlen = der[3];
const s = BigInt("0x" + der.subarray(6 + rlen).toString("hex"));
const n = BigInt("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");

console.log(JSON.stringify({
  tx,
  canonical: xrpl.encode(tx) === blob.toUpperCase(),
  signature_valid: xrpl.verifySignature(blob),
  key_is_account: xrpl.deriveAddress(tx.SigningPubKey) === tx.Account,
  low_s: s <= n / 2n,
  valid_model,
  model_error,
  hash: xrpl.hashes.hashSignedTx(blob),
}));
