#!/usr/bin/env node
/** The `swarmcast` command: the whole stream on one machine, or each role alone. */
import { Command } from 'commander';
import { registerPeerCommand } from './peer.js';
import { registerStartCommand } from './start.js';

const program = new Command('swarmcast')
  .description('peer-assisted, verifiable live video streaming over WebRTC')
  .showHelpAfterError()
  .enablePositionalOptions();

registerStartCommand(program);
registerPeerCommand(program);

await program.parseAsync(process.argv);
