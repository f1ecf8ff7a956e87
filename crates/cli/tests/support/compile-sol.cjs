// Compiles one Solidity file with solc-js (Solidity's own compiler, built to wasm) and prints
// the creation bytecode of the contract named like the file, as hex.
//
// Usage: node compile-sol.cjs <test-tools dir> <File.sol>
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const solc = require(path.resolve(process.argv[2], "node_modules", "solc"));

const file = process.argv[3];
const name = path.basename(file, ".sol");
const input = {
  language: "Solidity",
  sources: { [name + ".sol"]: { content: fs.readFileSync(file, "utf8") } },
  settings: { outputSelection: { "*": { "*": ["evm.bytecode.object"] } } },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length > 0) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
process.stdout.write(output.contracts[name + ".sol"][name].evm.bytecode.object + "\n");
