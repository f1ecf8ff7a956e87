// Drives the devnet with near-api-js (NEAR's JavaScript client, unchanged, from npm) as an app
// developer would, and asserts every outcome: balances to the yoctoNEAR, keys as listed, views.
// Run by tests/near_api_js.rs; every step says on stderr what it does, so a failure shows where.
//
// Usage: node near-api-js.cjs <test-tools dir> <config JSON>, the config being
//   {"rpc_url", "account_id", "private_key", "wasm", "mode"}
// where the account is a funded account on the chain with that full-access key, `wasm` the
// app contract (support/near-api-js-app.wat, assembled), and `mode`:
// - "lifecycle": a sub-account with a new key, transfers, an implicit account funded by a
//   transfer, a deploy, change and view calls, a function-call key with allowance and method
//   names used and then deleted, refusals as near-api-js surfaces them, and deleting accounts
//   with a beneficiary;
// - "sign": a sub-account running the app contract, whose `request_sign` calls the signer
//   contract's `sign` on signer.devnet (config "request": the sign request) and returns the
//   signature through its callback. Prints {"app_id", "signature"} for the test to verify.
"use strict";
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const tools = process.argv[2];
const config = JSON.parse(process.argv[3]);
// The test tools' copy, as an app would import it (classes shared with its error module).
const load = createRequire(path.resolve(tools, "package.json"));
const naj = load("near-api-js");
const errors = load("near-api-js/rpc-errors");
const { Account, Contract, JsonRpcProvider, KeyPair, nearToYocto, teraToGas } = naj;

const NEAR = nearToYocto("1");
const provider = new JsonRpcProvider({ url: config.rpc_url });
const user = new Account(config.account_id, provider, config.private_key);
const wasm = new Uint8Array(fs.readFileSync(config.wasm));

function step(what) {
  process.stderr.write(`near-api-js: ${what}\n`);
}

/// Everything a transaction's outcomes burnt (its own and its receipts').
function burnt(outcome) {
  return outcome.receipts_outcome.reduce(
    (sum, r) => sum + BigInt(r.outcome.tokens_burnt),
    BigInt(outcome.transaction_outcome.outcome.tokens_burnt),
  );
}

async function total(account) {
  return (await account.getState()).balance.total;
}

/// The public keys an account lists, each with its permission as near-api-js returns it.
async function keys(account) {
  const list = await account.getAccessKeyList();
  return Object.fromEntries(list.keys.map((k) => [k.public_key, k.access_key.permission]));
}

/// Runs `f`, which must fail with an error of class `kind`; returns the error.
async function refused(f, kind) {
  let error = null;
  try {
    await f();
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${kind.name}, but it succeeded`);
  assert.ok(error instanceof kind, `expected ${kind.name}, got ${error.name}: ${error.message}`);
  return error;
}

/// A sub-account of the user with a new full-access key and `amount`, as an Account.
async function createSubAccount(prefix, amount) {
  const key = KeyPair.fromRandom("ed25519");
  const id = `${prefix}.${config.account_id}`;
  const before = await total(user);
  const outcome = await user.createSubAccount({
    accountOrPrefix: prefix,
    publicKey: key.getPublicKey(),
    nearToTransfer: amount,
  });
  const account = new Account(id, provider, key.toString());
  assert.equal(await total(account), amount);
  assert.deepEqual(await keys(account), { [key.getPublicKey().toString()]: "FullAccess" });
  // The parent paid the new account's balance and what the transaction burnt, nothing more.
  assert.equal(before - (await total(user)), amount + burnt(outcome));
  return { account, key };
}

/// Deploys the app contract and checks the code the chain holds.
async function deploy(account) {
  await account.deployContract(wasm);
  const code = await account.getContractCode();
  assert.deepEqual(new Uint8Array(code.code), wasm);
  const hash = naj.baseEncode(crypto.createHash("sha256").update(wasm).digest());
  assert.equal(code.hash, hash);
  assert.equal((await account.getState()).codeHash, hash);
}

async function theNode() {
  step("status, final block, gas price");
  const status = await provider.viewNodeStatus();
  assert.equal(await provider.getNetworkId(), status.chain_id);
  const block = await provider.viewBlock({ finality: "final" });
  assert.ok(block.header.height >= 1);
  const gas = await provider.viewGasPrice();
  assert.ok(BigInt(gas.gas_price) > 0n);
  // The spendable balance near-api-js reports, after the protocol's storage cost.
  const state = await user.getState();
  assert.equal(await user.getBalance(), state.balance.available);
  assert.ok(state.balance.available > 0n && state.balance.available <= state.balance.total);
}

async function lifecycle() {
  await theNode();

  step("create a sub-account with a new key");
  const { account: app, key: appKey } = await createSubAccount("app", 10n * NEAR);
  const appId = app.accountId;

  step("creating it again is refused with AccountAlreadyExists, its deposit refunded");
  let before = await total(user);
  const exists = await refused(
    () => user.createSubAccount({ accountOrPrefix: "app", publicKey: appKey.getPublicKey(), nearToTransfer: NEAR }),
    errors.AccountAlreadyExistsActionError,
  );
  assert.equal(exists.accountId, appId);
  assert.equal(before - (await total(user)), burnt(exists.transactionResult));
  assert.equal(await total(app), 10n * NEAR);

  step("transfer to it");
  await user.transfer({ receiverId: appId, amount: NEAR });
  assert.equal(await total(app), 11n * NEAR);

  step("fund an implicit account by a transfer, and spend from it with its key");
  const implicitKey = KeyPair.fromRandom("ed25519");
  const implicitId = naj.keyToImplicitAddress(implicitKey.getPublicKey());
  await user.transfer({ receiverId: implicitId, amount: 2n * NEAR });
  const implicit = new Account(implicitId, provider, implicitKey.toString());
  assert.equal(await total(implicit), 2n * NEAR);
  assert.deepEqual(await keys(implicit), { [implicitKey.getPublicKey().toString()]: "FullAccess" });
  const back = await implicit.transfer({ receiverId: config.account_id, amount: NEAR / 2n });
  assert.equal(await total(implicit), (3n * NEAR) / 2n - burnt(back));

  step("deploy the app contract");
  await deploy(app);

  step("call a change method, then a view");
  const call = await user.callFunctionRaw({ contractId: appId, methodName: "set_greeting", args: { text: "hello" } });
  assert.deepEqual(call.receipts_outcome[0].outcome.logs, ["greeting set"]);
  assert.deepEqual(await provider.callFunction({ contractId: appId, method: "get_greeting", args: {} }), { text: "hello" });
  const contract = new Contract({ provider, contractId: appId });
  assert.deepEqual(await contract.view.get_greeting(), { text: "hello" });

  step("add a function-call key with an allowance and a method list");
  const fcKey = KeyPair.fromRandom("ed25519");
  const fcPublic = fcKey.getPublicKey().toString();
  await app.addFunctionCallAccessKey({
    publicKey: fcPublic,
    contractId: appId,
    methodNames: ["set_greeting"],
    allowance: NEAR,
  });
  const granted = await app.getAccessKey(fcPublic);
  assert.deepEqual(granted.permission, {
    FunctionCall: { allowance: NEAR.toString(), receiver_id: appId, method_names: ["set_greeting"] },
  });
  assert.deepEqual(await keys(app), {
    [appKey.getPublicKey().toString()]: "FullAccess",
    [fcPublic]: granted.permission,
  });

  step("use it: its method is called and paid from its allowance");
  const byKey = new Account(appId, provider, fcKey.toString());
  const keyCall = await byKey.callFunctionRaw({ contractId: appId, methodName: "set_greeting", args: { text: "by key" } });
  assert.deepEqual(await contract.view.get_greeting(), { text: "by key" });
  const allowance = BigInt((await app.getAccessKey(fcPublic)).permission.FunctionCall.allowance);
  assert.equal(allowance, NEAR - burnt(keyCall));

  step("what it may not sign is refused as nearcore refuses it");
  const other = await refused(
    () => byKey.callFunction({ contractId: appId, methodName: "request_sign", args: {} }),
    errors.AccessKeyMethodNameMismatchActionError,
  );
  assert.equal(other.methodName, "request_sign");
  await refused(() => byKey.transfer({ receiverId: config.account_id, amount: 1n }), errors.AccessKeyRequiresFullAccessActionError);
  await refused(
    () => byKey.callFunction({ contractId: appId, methodName: "set_greeting", args: {}, deposit: 1n }),
    errors.AccessKeyDepositWithFunctionCallActionError,
  );
  await refused(
    () => byKey.callFunction({ contractId: config.account_id, methodName: "set_greeting", args: {} }),
    errors.AccessKeyReceiverMismatchActionError,
  );

  step("delete the key: it is gone and can sign nothing");
  await app.deleteKey(fcPublic);
  assert.deepEqual(await keys(app), { [appKey.getPublicKey().toString()]: "FullAccess" });
  await refused(() => app.getAccessKey(fcPublic), errors.AccessKeyDoesNotExistError);
  await refused(
    () => byKey.callFunction({ contractId: appId, methodName: "set_greeting", args: { text: "gone" } }),
    errors.AccessKeyNotFoundActionError,
  );
  assert.deepEqual(await contract.view.get_greeting(), { text: "by key" });

  step("delete the implicit account and the app account, the user the beneficiary");
  for (const account of [implicit, app]) {
    const balance = await total(account);
    before = await total(user);
    const deleted = await account.deleteAccount(config.account_id);
    // The balance reaches the beneficiary in a refund receipt, which EXECUTED_OPTIMISTIC (what
    // near-api-js waits for) does not wait for; FINAL does.
    const final = await provider.viewTransactionStatus({
      txHash: deleted.transaction_outcome.id,
      accountId: account.accountId,
      waitUntil: "FINAL",
    });
    assert.equal(final.final_execution_status, "FINAL");
    // The beneficiary gets the balance less what the deleting transaction cost.
    assert.equal((await total(user)) - before, balance - burnt(final));
    await refused(() => account.getState(), errors.AccountDoesNotExistError);
  }
  return { app_id: appId, implicit_id: implicitId };
}

async function sign() {
  await theNode();
  step("create the app account and deploy the app contract");
  const { account: app } = await createSubAccount("signing-app", 10n * NEAR);
  await deploy(app);

  step("request_sign: the app calls the signer's sign and answers through its callback");
  const signature = await user.callFunction({
    contractId: app.accountId,
    methodName: "request_sign",
    args: { request: config.request },
    gas: teraToGas("300"),
  });
  assert.ok(signature && typeof signature === "object", `no signature: ${JSON.stringify(signature)}`);
  // The callback kept what it returned.
  assert.deepEqual(await provider.callFunction({ contractId: app.accountId, method: "last_signature", args: {} }), signature);
  return { app_id: app.accountId, signature };
}

const modes = { lifecycle, sign };

(async () => {
  const run = modes[config.mode];
  if (!run) throw new Error(`unknown mode ${config.mode}`);
  console.log(JSON.stringify(await run()));
})().catch((e) => {
  process.stderr.write(`near-api-js: FAILED: ${e && e.stack ? e.stack : e}\n`);
  if (e && e.transactionResult) {
    process.stderr.write(`transaction: ${JSON.stringify(e.transactionResult)}\n`);
  }
  process.exit(1);
});
