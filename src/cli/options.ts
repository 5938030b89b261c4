/** Parsers for command-line values: each throws an error commander prints as a usage error. */
import { InvalidArgumentError } from 'commander';
import { STREAM_ID_PATTERN } from '../protocol/chunk.js';
import { TOPOLOGY_KINDS, type TopologyKind } from '../protocol/tracker.js';

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
