#!/usr/bin/env node
/** The `swarmcast` command: the whole stream on one machine, or each role alone. */
import { Command } from 'commander';
import { registerBroadcastCommand } from './broadcast.js';
import { registerLabCommand } from './lab.js';
import { registerOriginCommand } from './origin.js';
import { registerPeerCommand } from './peer.js';
import { registerStartCommand } from './start.js';
import { registerTrackerCommand } from './tracker.js';

const program = new Command('swarmcast')
  .description('peer-assisted, verifiable live video streaming over WebRTC')
  .showHelpAfterError();

registerStartCommand(program);
registerBroadcastCommand(program);
registerOriginCommand(program);
registerTrackerCommand(program);
registerPeerCommand(program);
registerLabCommand(program);

await program.parseAsync(process.argv);
