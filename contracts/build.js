#!/usr/bin/env node
// Compiles contracts/src/*.sol with the pinned solcjs (package.json) into contracts/out/<Name>.json.
// Deterministic: fixed compiler version, evmVersion, optimizer settings and no metadata hash, so
// `make check-contracts` can recompile into a temp dir and diff against the committed artifacts.
//
// Usage: node contracts/build.js [--out DIR]
'use strict';

const fs = require('fs');
const path = require('path');

const EVM_VERSION = 'prague';
const OPTIMIZER_RUNS = 200;
const CONTRACTS = ['Inbox', 'Registry', 'Lookahead', 'Whitelist', 'CommitmentVerifier', 'PreconfSlasher', 'ISlasher'];

function main() {
  const args = process.argv.slice(2);
  let outDir = path.join(__dirname, 'out');
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out' && i + 1 < args.length) {
      outDir = path.resolve(args[++i]);
    } else {
      throw new Error(`unknown argument: ${args[i]}`);
    }
  }

  let solc;
  try {
    solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));
  } catch (e) {
    console.error('solc not installed: run `make tools` (scripts/install-tools.sh) first');
    process.exit(1);
  }

  const srcDir = path.join(__dirname, 'src');
  const sources = {};
  for (const file of fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()) {
    sources[`src/${file}`] = { content: fs.readFileSync(path.join(srcDir, file), 'utf8') };
  }

  const settings = {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: {
      '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
    },
  };
  const input = { language: 'Solidity', sources, settings };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));

  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) {
    console.error(e.formattedMessage || e.message);
  }
  if (errors.length > 0) {
    process.exit(1);
  }

  fs.mkdirSync(outDir, { recursive: true });
  for (const name of CONTRACTS) {
    const contract = output.contracts[`src/${name}.sol`] && output.contracts[`src/${name}.sol`][name];
    if (!contract) {
      console.error(`contract ${name} not found in compiler output`);
      process.exit(1);
    }
    const artifact = {
      contractName: name,
      sourceName: `contracts/src/${name}.sol`,
      compiler: { version: solc.version(), settings: { evmVersion: EVM_VERSION, optimizer: settings.optimizer, metadata: settings.metadata } },
      abi: contract.abi,
      bytecode: '0x' + contract.evm.bytecode.object,
      deployedBytecode: '0x' + contract.evm.deployedBytecode.object,
    };
    const file = path.join(outDir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + '\n');
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  }
}

main();
