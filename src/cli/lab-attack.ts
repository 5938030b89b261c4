/** `swarmcast lab attack`: polluting viewers against a swarm on the simulator, with a baseline. */
import { dirname } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../common/errors.js';
import { ATTACK_MODES, type AttackMode } from '../lab/attacks.js';
import {
  ATTACK_LAB_DEFAULTS,
  attackReport,
  runAttackLab,
  writeAttackJson,
  type AttackLabOptions,
} from '../lab/attack.js';
import { parseDuration, parseNonNegativeInt, parsePositiveInt } from './options.js';

interface LabAttackCommandOptions {
  mode: 'sim';
  peers: number;
  polluters: number;
  attack: AttackMode[];
  duration: number;
  seed: number;
  json: string;
  report?: string;
}

function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 0 && n < 1)) {
    throw new InvalidArgumentError('expected a fraction of the viewers, above 0 and below 1');
  }
  return n;
}

function parseAttacks(value: string): AttackMode[] {
  if (value === 'all') return [...ATTACK_MODES];
  return value.split(',').map((item) => {
    const found = ATTACK_MODES.find((mode) => mode === item.trim());
    if (found === undefined) {
      throw new InvalidArgumentError(`expected all or some of ${ATTACK_MODES.join(',')}`);
    }
    return found;
  });
}

function parseSimMode(value: string): 'sim' {
  if (value === 'sim') return value;
  throw new InvalidArgumentError('only sim is implemented (real mode: not yet)');
}

export function registerLabAttackCommand(lab: Command): void {
  lab
    .command('attack')
    .description(
      'polluting viewers (an attack mode applied to their transport) against a simulated swarm, ' +
        'and a baseline run with the same seed and no attacker; writes one JSON record per mode',
    )
    .option(
      '--mode <mode>',
      'sim (the deterministic simulator; real mode is not implemented)',
      parseSimMode,
      'sim',
    )
    .option(
      '--peers <n>',
      'viewers, polluters included',
      parsePositiveInt,
      ATTACK_LAB_DEFAULTS.peers,
    )
    .option(
      '--polluters <fraction>',
      'share of the viewers that pollute',
      parseFraction,
      ATTACK_LAB_DEFAULTS.polluterFraction,
    )
    .option(
      '--attack <modes>',
      `all, or comma-separated of ${ATTACK_MODES.join(',')}`,
      parseAttacks,
      [...ATTACK_MODES],
    )
    .option(
      '--duration <s>',
      'seconds of stream per run',
      parseDuration,
      ATTACK_LAB_DEFAULTS.durationMs / 1000,
    )
    .option('--seed <n>', 'seed of every run', parseNonNegativeInt, ATTACK_LAB_DEFAULTS.seed)
    .requiredOption('--json <file>', 'where to write the records')
    .option('--report <file>', 'also write a Markdown report (the command and a table)')
    .action(async (flags: LabAttackCommandOptions) => {
      const options: AttackLabOptions = {
        peers: flags.peers,
        polluterFraction: flags.polluters,
        attacks: flags.attack,
        durationMs: Math.round(flags.duration * 1000),
        seed: flags.seed,
      };
      const startedMs = performance.now();
      try {
        const records = await runAttackLab(options, ({ done, total, label }) => {
          process.stderr.write(
            `${String(done)}/${String(total)} runs (${label}), ${((performance.now() - startedMs) / 1000).toFixed(0)} s\n`,
          );
        });
        await mkdir(dirname(flags.json), { recursive: true });
        await writeAttackJson(flags.json, records);
        if (flags.report !== undefined) {
          const command = [
            'swarmcast lab attack',
            `--mode ${flags.mode}`,
            `--peers ${String(flags.peers)}`,
            `--polluters ${String(flags.polluters)}`,
            `--attack ${flags.attack.length === ATTACK_MODES.length ? 'all' : flags.attack.join(',')}`,
            `--duration ${String(flags.duration)}`,
            `--seed ${String(flags.seed)}`,
            `--json ${flags.json}`,
            `--report ${flags.report}`,
          ].join(' ');
          await mkdir(dirname(flags.report), { recursive: true });
          await writeFile(flags.report, attackReport(records, command));
        }
        process.stdout.write(
          `${String(records.length)} attack runs and a baseline in ${((performance.now() - startedMs) / 1000).toFixed(1)} s; wrote ${flags.json}\n`,
        );
      } catch (error) {
        process.stderr.write(`swarmcast lab attack: ${errorMessage(error)}\n`);
        process.exitCode = 1;
      }
    });
}
