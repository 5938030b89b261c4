/**
 * `swarmcast lab attack`: polluting viewers against a swarm, on the simulator or on real viewer
 * processes over WebRTC, each mode against an attack-free baseline.
 */
import { dirname } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { SwarmcastError, errorMessage } from '../common/errors.js';
import { ATTACK_MODES, type AttackMode } from '../lab/attacks.js';
import {
  ATTACK_LAB_DEFAULTS,
  attackReport,
  runAttackLab,
  simAttackSetup,
  writeAttackJson,
  type AttackProgress,
  type AttackRecord,
} from '../lab/attack.js';
import {
  REAL_ATTACK_LAB_DEFAULTS,
  realAttackSetup,
  realPlacementNotes,
  runRealAttackLab,
} from '../lab/attack-real.js';
import { stderrLogger } from './log.js';
import { parseDuration, parseNonNegativeInt, parsePositiveInt } from './options.js';

type LabMode = 'sim' | 'real';

interface LabAttackCommandOptions {
  mode: LabMode;
  peers?: number;
  polluters: number;
  attack: AttackMode[];
  duration?: number;
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

function parseMode(value: string): LabMode {
  if (value === 'sim' || value === 'real') return value;
  throw new InvalidArgumentError('expected sim or real');
}

/** The report's title, set-up and notes, and the records, of one lab run. */
interface LabOutcome {
  readonly records: AttackRecord[];
  readonly title: string;
  readonly setup: string;
  readonly notes: string;
}

export function registerLabAttackCommand(lab: Command): void {
  lab
    .command('attack')
    .description(
      'polluting viewers (an attack mode applied to their transport) against a simulated swarm or ' +
        'real viewer processes, and an attack-free baseline; writes one JSON record per mode',
    )
    .option(
      '--mode <mode>',
      'sim (the deterministic simulator) or real (viewer processes over WebRTC on loopback, ' +
        'a baseline run before each attack run)',
      parseMode,
      'sim',
    )
    .option(
      '--peers <n>',
      `viewers, polluters included (default: ${String(ATTACK_LAB_DEFAULTS.peers)} sim, ${String(REAL_ATTACK_LAB_DEFAULTS.peers)} real)`,
      parsePositiveInt,
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
      `seconds of stream per run (default: ${String(ATTACK_LAB_DEFAULTS.durationMs / 1000)} sim, ${String(REAL_ATTACK_LAB_DEFAULTS.durationMs / 1000)} real)`,
      parseDuration,
    )
    .option(
      '--seed <n>',
      'seed of every run (sim only)',
      parseNonNegativeInt,
      ATTACK_LAB_DEFAULTS.seed,
    )
    .requiredOption('--json <file>', 'where to write the records')
    .option('--report <file>', 'also write a Markdown report (the command and a table)')
    .action(async (flags: LabAttackCommandOptions) => {
      const real = flags.mode === 'real';
      const defaults = real ? REAL_ATTACK_LAB_DEFAULTS : ATTACK_LAB_DEFAULTS;
      const peers = flags.peers ?? defaults.peers;
      const durationS = flags.duration ?? defaults.durationMs / 1000;
      const durationMs = Math.round(durationS * 1000);
      const startedMs = performance.now();
      const onProgress = ({ done, total, label }: AttackProgress): void => {
        process.stderr.write(
          `${String(done)}/${String(total)} runs (${label}), ${((performance.now() - startedMs) / 1000).toFixed(0)} s\n`,
        );
      };
      const run = async (): Promise<LabOutcome> => {
        if (!real) {
          const options = {
            peers,
            polluterFraction: flags.polluters,
            attacks: flags.attack,
            durationMs,
            seed: flags.seed,
          };
          return {
            records: await runAttackLab(options, onProgress),
            title: 'Polluters in the simulator (`swarmcast lab attack`)',
            setup: simAttackSetup(),
            notes: '',
          };
        }
        const options = {
          ...REAL_ATTACK_LAB_DEFAULTS,
          peers,
          polluterFraction: flags.polluters,
          attacks: flags.attack,
          durationMs,
        };
        const logger = stderrLogger('swarmcast:lab', 'warn');
        // Interrupted: the run under way stops its processes before the command exits.
        const interrupt = new AbortController();
        const abort = (): void => {
          interrupt.abort(new SwarmcastError('invalid-state', 'interrupted'));
        };
        process.once('SIGINT', abort);
        process.once('SIGTERM', abort);
        try {
          const { records, placements } = await runRealAttackLab(
            { logger, signal: interrupt.signal },
            options,
            onProgress,
          );
          return {
            records,
            title: 'Polluters among real viewer processes (`swarmcast lab attack --mode real`)',
            setup: realAttackSetup(options),
            notes: realPlacementNotes(placements),
          };
        } finally {
          process.off('SIGINT', abort);
          process.off('SIGTERM', abort);
        }
      };
      try {
        const { records, title, setup, notes } = await run();
        await mkdir(dirname(flags.json), { recursive: true });
        await writeAttackJson(flags.json, records);
        if (flags.report !== undefined) {
          const command = [
            'swarmcast lab attack',
            `--mode ${flags.mode}`,
            `--peers ${String(peers)}`,
            `--polluters ${String(flags.polluters)}`,
            `--attack ${flags.attack.length === ATTACK_MODES.length ? 'all' : flags.attack.join(',')}`,
            `--duration ${String(durationS)}`,
            ...(real ? [] : [`--seed ${String(flags.seed)}`]),
            `--json ${flags.json}`,
            `--report ${flags.report}`,
          ].join(' ');
          const elapsed = `Run time: ${((performance.now() - startedMs) / 1000).toFixed(0)} s.`;
          await mkdir(dirname(flags.report), { recursive: true });
          await writeFile(
            flags.report,
            attackReport(records, { title, command, setup: `${setup}\n\n${elapsed}` }) +
              (notes === '' ? '' : `\n${notes}`),
          );
        }
        process.stdout.write(
          `${String(records.length)} attack runs and ${real ? 'their baselines' : 'a baseline'} in ${((performance.now() - startedMs) / 1000).toFixed(1)} s; wrote ${flags.json}\n`,
        );
      } catch (error) {
        process.stderr.write(`swarmcast lab attack: ${errorMessage(error)}\n`);
        process.exitCode = 1;
      }
    });
}
