// Checks a signed Cosmos SDK transaction (TxRaw bytes, SIGN_MODE_DIRECT) with CosmJS and
// prints what it found as JSON: the decoded MsgSend, memo, fee, gas and sequence; the
// signer's address from its public key; whether the signature verifies over the sign doc
// CosmJS rebuilds for the given chain id and account number; whether `s` is low (the SDK's
// secp256k1 key refuses the high twin); and the transaction hash.
//
// Usage: node cosmjs-check.cjs <test-tools dir> <tx base64> <chain id> <account number> <prefix>
"use strict";
const path = require("node:path");
const lib = (name) => require(path.resolve(process.argv[2], "node_modules", name));
const { decodeTxRaw, decodePubkey, makeSignDoc, makeSignBytes, Registry } = lib("@cosmjs/proto-signing");
const { Secp256k1, Secp256k1Signature, sha256 } = lib("@cosmjs/crypto");
const { pubkeyToAddress } = lib("@cosmjs/amino");
const { fromBase64, toHex } = lib("@cosmjs/encoding");
const { TxRaw } = lib("cosmjs-types/cosmos/tx/v1beta1/tx");

(async () => {
  const [, , , txBase64, chainId, accountNumber, prefix] = process.argv;
  const bytes = fromBase64(txBase64);
  const raw = TxRaw.decode(bytes);
  const tx = decodeTxRaw(bytes);
  const signer = tx.authInfo.signerInfos[0];
  const pubkey = decodePubkey(signer.publicKey);
  const key = fromBase64(pubkey.value);
  const doc = makeSignDoc(raw.bodyBytes, raw.authInfoBytes, chainId, Number(accountNumber));
  const hash = sha256(makeSignBytes(doc));
  const sig = Secp256k1Signature.fromFixedLength(tx.signatures[0]);
  const n = BigInt("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
  const s = BigInt("0x" + toHex(sig.s()));
  const msg = new Registry().decode(tx.body.messages[0]);
  console.log(JSON.stringify({
    type_url: tx.body.messages[0].typeUrl,
    from_address: msg.fromAddress,
    to_address: msg.toAddress,
    amount: msg.amount,
    memo: tx.body.memo,
    fee: tx.authInfo.fee.amount,
    gas: tx.authInfo.fee.gasLimit.toString(),
    sequence: signer.sequence.toString(),
    sign_mode: signer.modeInfo.single.mode,
    signer_address: pubkeyToAddress(pubkey, prefix),
    signature_valid: await Secp256k1.verifySignature(sig, hash, key),
    low_s: s <= n / 2n,
    hash: toHex(sha256(bytes)).toUpperCase(),
  }));
})();
