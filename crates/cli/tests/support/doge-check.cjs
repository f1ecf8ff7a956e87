// Checks a signed Dogecoin transaction with bitcore-lib-doge (BitPay's Dogecoin library: its
// own transaction parser, address rules and script interpreter) and prints what it found as
// JSON: each input run through the interpreter against the P2PKH output of `from` it spends,
// with Dogecoin Core's standard-policy flags (strict DER, low s, push-only, minimal data,
// NULLFAIL, ...; not CLEANSTACK, which bitcore tests on the scriptSig's stack rather than the
// final one and so fails every P2PKH spend); the outputs as Dogecoin addresses; and bitcore's
// own sanity check.
//
// Usage: node doge-check.cjs <test-tools dir> <raw tx hex> <from address> <koinu of input 0> ...
"use strict";
const path = require("node:path");
const doge = require(path.resolve(process.argv[2], "node_modules", "bitcore-lib-doge"));

const [, , , raw, from, ...values] = process.argv;
const tx = new doge.Transaction(raw);
const I = doge.Script.Interpreter;
const flags = I.SCRIPT_VERIFY_P2SH | I.SCRIPT_VERIFY_STRICTENC | I.SCRIPT_VERIFY_DERSIG |
  I.SCRIPT_VERIFY_LOW_S | I.SCRIPT_VERIFY_NULLDUMMY | I.SCRIPT_VERIFY_SIGPUSHONLY |
  I.SCRIPT_VERIFY_MINIMALDATA | I.SCRIPT_VERIFY_NULLFAIL |
  I.SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY | I.SCRIPT_VERIFY_CHECKSEQUENCEVERIFY;
const spent = doge.Script.fromAddress(from);
const inputs = tx.inputs.map((input, i) => {
  const interpreter = new I();
  const valid = interpreter.verify(input.script, spent, tx, i, flags, [], new doge.crypto.BN(values[i]));
  return { valid, error: interpreter.errstr || null };
});
console.log(JSON.stringify({
  from_is_mainnet_address: doge.Address.isValid(from, "livenet"),
  inputs,
  outputs: tx.outputs.map((o) => ({ address: o.script.toAddress("livenet").toString(), koinu: o.satoshis })),
  sane: tx.verify(),
  txid: tx.id,
}));
