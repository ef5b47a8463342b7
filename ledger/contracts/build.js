// Compiles the contracts with the pinned solc (package.json) and writes <Name>.abi and <Name>.bin.
// Run by `go generate ./ledger/...`; the output is committed so builds need no Node.js.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const names = ['FractalsChannels', 'TestToken', 'TestRejector'];
const sources = {};
for (const n of names) {
  sources[n + '.sol'] = { content: fs.readFileSync(path.join(__dirname, n + '.sol'), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
for (const e of out.errors || []) process.stderr.write(e.formattedMessage + '\n');
if (errors.length > 0) process.exit(1);
for (const n of names) {
  const c = out.contracts[n + '.sol'][n];
  fs.writeFileSync(path.join(__dirname, 'build', n + '.abi'), JSON.stringify(c.abi, null, 1) + '\n');
  fs.writeFileSync(path.join(__dirname, 'build', n + '.bin'), c.evm.bytecode.object + '\n');
}
process.stdout.write('solc ' + solc.version() + '\n');
