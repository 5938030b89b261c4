/** Parsers for command-line values: each throws an error commander prints as a usage error. */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../common/errors.js';
import type { AdmissionOptions } from '../tracker/admission.js';
import type { RegisteredBroadcaster } from '../tracker/core/tracker-core.js';
import { STREAM_ID_PATTERN } from '../protocol/chunk.js';
import {
  INTEGRITY_SCHEMES,
  TOPOLOGY_KINDS,
  type IntegrityScheme,
  type StreamIntegrity,
  type TopologyKind,
} from '../protocol/tracker.js';

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return n;
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new InvalidArgumentError('expected a port number (0 picks a free one)');
  }
  return n;
}

/** A duration in seconds (fractions allowed). */
export function parseDuration(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

export function parseStreamId(value: string): string {
  if (!STREAM_ID_PATTERN.test(value)) {
    throw new InvalidArgumentError('expected 1-64 letters, digits, dots, dashes or underscores');
  }
  return value;
}

export function parseHttpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an http:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  }
  return value.replace(/\/+$/, '');
}

export function parseWsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a ws:// URL');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidArgumentError('expected a ws:// or wss:// URL');
  }
  return value;
}

export function parseTopology(value: string): TopologyKind {
  const kind = TOPOLOGY_KINDS.find((k) => k === value);
  if (kind === undefined) throw new InvalidArgumentError(`expected ${TOPOLOGY_KINDS.join(', ')}`);
  return kind;
}

/** `ed25519`, `hmac-sha256` or its short form `hmac`. */
export function parseIntegrityScheme(value: string): IntegrityScheme {
  const scheme = INTEGRITY_SCHEMES.find((s) => s === value || s === `${value}-sha256`);
  if (scheme === undefined) throw new InvalidArgumentError('expected ed25519 or hmac');
  return scheme;
}

/** A probability: a number within [0, 1]. */
export function parseThreshold(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError('expected a probability within [0, 1], e.g. 0.1');
  }
  return n;
}

/** The integrity flags shared by `broadcast` and `start`. */
export interface IntegrityFlags {
  integrity?: IntegrityScheme;
  verifyThreshold?: number;
}

/**
 * The stream's integrity scheme from the flags: Ed25519 when absent; HMAC checked on every
 * chunk unless `--verify-threshold` says otherwise. A threshold needs `--integrity hmac`.
 */
export function integrityFromFlags(flags: IntegrityFlags): StreamIntegrity | undefined {
  if (flags.integrity !== 'hmac-sha256') {
    if (flags.verifyThreshold !== undefined) {
      throw new InvalidArgumentError(
        '--verify-threshold applies to --integrity hmac only (Ed25519 checks every chunk)',
      );
    }
    return flags.integrity === undefined ? undefined : { scheme: flags.integrity };
  }
  return { scheme: 'hmac-sha256', threshold: flags.verifyThreshold ?? 1 };
}

/** `integrityFromFlags`, or the command's usage error (exit code 2) on flags that do not fit. */
export function integrityOrUsageError(
  flags: IntegrityFlags,
  command: Command,
): StreamIntegrity | undefined {
  try {
    return integrityFromFlags(flags);
  } catch (error) {
    return command.error(`error: ${errorMessage(error)}`, { exitCode: 2 });
  }
}

/** Adds the integrity flags to a command. */
export function integrityOptions(command: Command): Command {
  return command
    .option(
      '--integrity <scheme>',
      "chunk authentication: ed25519 (the broadcaster's signature, checked on every chunk; default) or hmac (MioStream's: a stream key every viewer holds, so any viewer can forge)",
      parseIntegrityScheme,
    )
    .option(
      '--verify-threshold <p>',
      "with --integrity hmac: the probability a viewer checks a chunk's HMAC (default 1)",
      parseThreshold,
    );
}

/** Environment variable the `peer` command reads its admission secret or token from. */
export const ADMISSION_ENV = 'SWARMCAST_ADMISSION';
/** Environment variable the `tracker` and `start` commands read the join secret from. */
export const JOIN_SECRET_ENV = 'SWARMCAST_JOIN_SECRET';

/** `[stream=]key`: a broadcaster key the tracker accepts, for one stream or all. */
export function parseBroadcasterKey(
  value: string,
  previous: RegisteredBroadcaster[] = [],
): RegisteredBroadcaster[] {
  const at = value.lastIndexOf('=');
  const stream = at < 0 ? undefined : value.slice(0, at);
  const publicKey = at < 0 ? value : value.slice(at + 1);
  if (!/^[A-Za-z0-9_-]{43}$/.test(publicKey)) {
    throw new InvalidArgumentError(
      'expected [stream=]key, the key an Ed25519 public key (base64url)',
    );
  }
  if (stream !== undefined) parseStreamId(stream);
  return [...previous, stream === undefined ? { publicKey } : { publicKey, stream }];
}

/** The admission flags shared by `tracker` and `start`. */
export interface AdmissionFlags {
  joinSecret?: string;
  jwtPublicKey?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
}

/** Builds the tracker's admission from the flags (and `SWARMCAST_JOIN_SECRET`); reads the key file. */
export async function admissionFromFlags(flags: AdmissionFlags): Promise<AdmissionOptions> {
  const secret = flags.joinSecret ?? process.env[JOIN_SECRET_ENV];
  if (secret !== undefined && flags.jwtPublicKey !== undefined) {
    throw new InvalidArgumentError('--join-secret and --jwt-public-key exclude each other');
  }
  if (secret !== undefined) return { mode: 'secret', secret };
  if (flags.jwtPublicKey === undefined) return { mode: 'open' };
  return {
    mode: 'jwt',
    publicKey: await readFile(flags.jwtPublicKey, 'utf8'),
    ...(flags.jwtIssuer === undefined ? {} : { issuer: flags.jwtIssuer }),
    ...(flags.jwtAudience === undefined ? {} : { audience: flags.jwtAudience }),
  };
}

/** Adds the admission flags to a command. */
export function admissionOptions(command: Command): Command {
  return command
    .option('--join-secret <secret>', `viewers must present this secret (env ${JOIN_SECRET_ENV})`)
    .option(
      '--jwt-public-key <file>',
      "viewers must present a JWT signed by this key (PEM, JWK or JWK set): the site's backend issues them",
    )
    .option('--jwt-issuer <iss>', 'with --jwt-public-key: the iss claim tokens must carry')
    .option('--jwt-audience <aud>', 'with --jwt-public-key: the aud claim tokens must carry');
}
