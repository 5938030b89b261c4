/**
 * The monitor's control requests, checked with zod at the tracker (the page imports only their
 * types, from `messages.ts`), and the lab scenario one of them runs.
 */
import type { IncomingMessage } from 'node:http';
import { text } from 'node:stream/consumers';
import { z } from 'zod';
import { InvalidStateError, SwarmcastError, type ErrorCode } from '../common/errors.js';
import { ATTACK_MODES } from '../lab/attacks.js';
import { VICTIM_DISTRIBUTIONS } from '../lab/failures.js';
import { MIO_LAB_DEFAULTS, mioRunSpecs, runMioOnce, type MioRunRecord } from '../lab/mio.js';
import { STREAM_ID_PATTERN } from '../protocol/chunk.js';
import { TOPOLOGY_KINDS } from '../protocol/tracker.js';
import type { AttackRequest, FailureSetting, LabRequest, TopologyRequest } from './messages.js';

/** Highest failure rate the monitor accepts, failures per second (the paper's 0 to 5). */
export const MAX_FAILURE_RATE = 5;
/** Largest swarm of a lab scenario started from the monitor. */
export const MAX_LAB_PEERS = 100;
/** Longest lab scenario, virtual seconds (the paper's runs are a minute). */
export const MAX_LAB_DURATION_S = 60;
/** Shortest lab scenario: the lab's failures start this far into a run. */
export const MIN_LAB_DURATION_S = MIO_LAB_DEFAULTS.failuresFromMs / 1000;
/**
 * Most polluters one attack request starts (the runner also keeps all of them to half its
 * viewers).
 */
export const MAX_ATTACK_POLLUTERS = 50;
/** Largest control request body. */
const MAX_CONTROL_BODY_BYTES = 1024;

const rate = z.number().min(0).max(MAX_FAILURE_RATE);
const distribution = z.enum(VICTIM_DISTRIBUTIONS);
const topology = z.enum(TOPOLOGY_KINDS);

export const topologyRequestSchema: z.ZodType<TopologyRequest> = z.strictObject({
  stream: z.string().regex(STREAM_ID_PATTERN),
  kind: topology,
});

export const failureSettingSchema: z.ZodType<FailureSetting> = z.strictObject({
  rate,
  distribution,
});

export const labRequestSchema: z.ZodType<LabRequest> = z.strictObject({
  topology,
  distribution,
  rate,
  peers: z.number().int().min(1).max(MAX_LAB_PEERS),
  durationS: z.number().int().min(MIN_LAB_DURATION_S).max(MAX_LAB_DURATION_S),
  seed: z.number().int().min(0).max(0xffff_ffff).optional(),
});

export const attackRequestSchema: z.ZodType<AttackRequest> = z.strictObject({
  mode: z.enum(ATTACK_MODES),
  polluters: z.number().int().min(1).max(MAX_ATTACK_POLLUTERS),
});

/** The kill control's body: `{}`. */
export const killRequestSchema = z.object({});

/** A control request the monitor refuses, with the HTTP status of its answer. */
export class ControlRequestError extends SwarmcastError {
  readonly status: number;

  constructor(status: number, code: ErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

/**
 * Reads and checks a control request's JSON body (`what` names it in errors). Refuses a body
 * that is not `application/json` (415; a cross-site form cannot send that type), has no
 * Content-Length (411) or a larger one than a control needs (413), is not JSON or does not fit
 * `schema` (400, with every problem).
 */
export async function readControl<T>(
  req: IncomingMessage,
  schema: z.ZodType<T>,
  what: string,
): Promise<T> {
  const refuse = (status: number, code: ErrorCode, message: string): ControlRequestError => {
    req.resume();
    return new ControlRequestError(status, code, message);
  };
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    throw refuse(415, 'malformed-message', 'send Content-Type: application/json');
  }
  const length = Number(req.headers['content-length'] ?? Number.NaN);
  if (!Number.isInteger(length)) throw refuse(411, 'malformed-message', 'send a Content-Length');
  if (length > MAX_CONTROL_BODY_BYTES) {
    throw refuse(413, 'message-too-large', `${what} is over ${MAX_CONTROL_BODY_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await text(req));
  } catch {
    throw new ControlRequestError(400, 'malformed-message', `${what} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`,
    );
    throw new ControlRequestError(
      400,
      'invalid-argument',
      `invalid ${what}: ${problems.join('; ')}`,
    );
  }
  return parsed.data;
}

/**
 * Runs one cell of the MioStream lab on the simulator, in this process (it yields to the event
 * loop as it goes): the lab's defaults with the request's topology, distribution, rate, size,
 * length and seed, so its record is the one `npm run lab` writes for that cell and seed.
 */
export async function runLabScenario(request: LabRequest): Promise<MioRunRecord> {
  const options = {
    ...MIO_LAB_DEFAULTS,
    topologies: [request.topology],
    distributions: [request.distribution],
    ratesPerS: [request.rate],
    reps: 1,
    peerCounts: [request.peers],
    durationMs: request.durationS * 1000,
    seed: request.seed ?? MIO_LAB_DEFAULTS.seed,
  };
  const [spec] = mioRunSpecs(options);
  if (spec === undefined) throw new InvalidStateError('a one-cell lab grid has no run');
  return runMioOnce(options, spec);
}
