import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../src/common/bytes.js';
import { ManualClock } from '../../src/common/clock.js';
import { generateNodeSigner, nodeSignatureCheck } from '../../src/crypto/ed25519.node.js';
import { authMessage } from '../../src/crypto/handshake.js';
import { InvalidStateError, ProtocolError, SwarmcastError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/logger.js';
import { SeededRandom } from '../../src/common/random.js';
import {
  TRACKER_PROTOCOL_VERSION,
  type ClientMessage,
  type StreamInfo,
  type TrackerMessage,
} from '../../src/protocol/tracker.js';
import {
  TRACKER_DEFAULTS,
  TrackerCore,
  type TrackerOptions,
} from '../../src/tracker/core/tracker-core.js';
import { treeTopology } from '../../src/tracker/core/tree.js';

const TIMEOUT_MS = 5000;

function streamInfo(stream: string): StreamInfo {
  return {
    stream,
    publicKey: 'AAAA',
    chunkDurationMs: 500,
    segmentDurationMs: 2000,
    originUrl: 'http://127.0.0.1:8080',
  };
}

interface FakeClient {
  connectionId: string;
  /** Everything the tracker sent, in order. */
  readonly inbox: TrackerMessage[];
  /** The close reason, once the tracker closed the connection. */
  closed: string | undefined;
  peerId: string;
  send(message: ClientMessage): void;
  /** Empties the inbox and returns what was in it. */
  take(): TrackerMessage[];
}

function setup(options: TrackerOptions = {}) {
  const clock = new ManualClock(1_000_000);
  const core = new TrackerCore(
    {
      clock,
      random: new SeededRandom(7),
      logger: silentLogger,
      signer: generateNodeSigner(),
      checkSignature: nodeSignatureCheck(),
    },
    { broadcasters: 'any', ...options },
  );

  function connect(): FakeClient {
    const inbox: TrackerMessage[] = [];
    const client: FakeClient = {
      connectionId: '',
      inbox,
      closed: undefined,
      peerId: '',
      send: (message) => {
        core.receive(client.connectionId, message);
      },
      take: () => inbox.splice(0),
    };
    client.connectionId = core.connect(
      (message) => inbox.push(message),
      (reason) => {
        client.closed = reason;
      },
    );
    return client;
  }

  /**
   * The handshake as a peer does it: hello with a fresh key, then the challenge signed. Returns
   * what the tracker answered the auth with.
   */
  function authenticate(
    client: FakeClient,
    role: 'viewer' | 'broadcaster',
    extra: { uploadKbps?: number } = {},
  ): TrackerMessage[] {
    const key = generateNodeSigner();
    client.send({
      type: 'hello',
      version: TRACKER_PROTOCOL_VERSION,
      role,
      publicKey: key.publicKey,
      ...extra,
    });
    const [challenge] = client.take();
    if (challenge?.type !== 'challenge') throw new Error('no challenge');
    const signed = authMessage(
      fromBase64Url(challenge.nonce),
      key.publicKey,
      role,
      challenge.trackerKey,
    );
    client.send({ type: 'auth', signature: toBase64Url(key.signSync(signed)) });
    return client.take();
  }

  function hello(role: 'viewer' | 'broadcaster'): FakeClient {
    const client = connect();
    const [welcome] = authenticate(client, role);
    if (welcome?.type !== 'welcome') throw new Error('no welcome');
    client.peerId = welcome.peerId;
    return client;
  }

  function broadcaster(stream = 'live'): FakeClient {
    const client = hello('broadcaster');
    client.send({ type: 'join', stream, info: streamInfo(stream) });
    client.take();
    return client;
  }

  function viewer(stream = 'live'): FakeClient {
    const client = hello('viewer');
    client.send({ type: 'join', stream });
    return client;
  }

  /** Advances the clock in heartbeat steps; every client in `alive` heartbeats at each step. */
  function runFor(ms: number, alive: readonly FakeClient[]): void {
    for (let t = 0; t < ms; t += 1000) {
      clock.advance(Math.min(1000, ms - t));
      for (const client of alive) client.send({ type: 'heartbeat' });
    }
  }

  return { clock, core, connect, authenticate, hello, broadcaster, viewer, runFor };
}

function neighbours(
  stream: string,
  parents: string[],
  children: string[],
  backupParents: string[] = [],
  backupChildren: string[] = [],
): TrackerMessage {
  return { type: 'neighbours', stream, parents, children, backupParents, backupChildren };
}

function errorCode(messages: readonly TrackerMessage[]): string | undefined {
  const last = messages.at(-1);
  return last?.type === 'error' ? last.code : undefined;
}

describe('TrackerCore', { timeout: TIMEOUT_MS }, () => {
  it('welcomes a completed handshake with a pseudonymous peer id and the heartbeat timings', () => {
    const { connect, authenticate } = setup({
      heartbeatIntervalMs: 2000,
      heartbeatTimeoutMs: 7000,
    });
    const client = connect();
    const [welcome] = authenticate(client, 'viewer');
    expect(welcome).toMatchObject({
      type: 'welcome',
      version: TRACKER_PROTOCOL_VERSION,
      heartbeatIntervalMs: 2000,
      heartbeatTimeoutMs: 7000,
    });
    const peerId = welcome?.type === 'welcome' ? welcome.peerId : '';
    expect(peerId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const other = connect();
    const [second] = authenticate(other, 'viewer');
    expect(second?.type === 'welcome' && second.peerId).not.toBe(peerId);
  });

  it('answers a message before the handshake with out-of-order and keeps the connection', () => {
    const { connect, authenticate } = setup();
    const client = connect();
    client.send({ type: 'join', stream: 'live' });
    expect(errorCode(client.take())).toBe('out-of-order');
    client.send({ type: 'heartbeat' });
    expect(errorCode(client.take())).toBe('out-of-order');
    expect(client.closed).toBeUndefined();
    expect(authenticate(client, 'viewer')[0]?.type).toBe('welcome');
    client.send({
      type: 'hello',
      version: TRACKER_PROTOCOL_VERSION,
      role: 'viewer',
      publicKey: 'A'.repeat(43),
    });
    expect(errorCode(client.take())).toBe('out-of-order');
  });

  it('refuses a hello with another protocol version', () => {
    const { connect } = setup();
    const client = connect();
    client.send({
      type: 'hello',
      version: TRACKER_PROTOCOL_VERSION + 1,
      role: 'viewer',
      publicKey: 'A'.repeat(43),
    });
    expect(errorCode(client.take())).toBe('unsupported-version');
  });

  it('creates a stream on a broadcaster join and reports it in the snapshot', () => {
    const { hello, core } = setup();
    const b = hello('broadcaster');
    b.send({ type: 'join', stream: 'live', info: streamInfo('live') });
    expect(b.take()).toEqual([
      { type: 'joined', info: streamInfo('live'), credential: expect.any(String) as string },
      neighbours('live', [], []),
    ]);
    expect(core.snapshot()).toEqual({
      connections: 1,
      streams: [
        {
          info: streamInfo('live'),
          topology: 'tree',
          nodes: [
            {
              id: b.peerId,
              role: 'broadcaster',
              parents: [],
              children: [],
              backupParents: [],
              backupChildren: [],
              uploadKbps: null,
              qoe: null,
            },
          ],
        },
      ],
    });
  });

  it('refuses a broadcaster join without info for its stream, and a second broadcaster', () => {
    const { hello, broadcaster } = setup();
    const first = hello('broadcaster');
    first.send({ type: 'join', stream: 'live' });
    expect(errorCode(first.take())).toBe('malformed-message');
    first.send({ type: 'join', stream: 'live', info: streamInfo('other') });
    expect(errorCode(first.take())).toBe('malformed-message');
    broadcaster('live');
    const second = hello('broadcaster');
    second.send({ type: 'join', stream: 'live', info: streamInfo('live') });
    expect(errorCode(second.take())).toBe('unauthorized');
  });

  it('answers a viewer join of an unknown stream with unknown-stream, then lets it join once the stream exists', () => {
    const { hello, broadcaster } = setup();
    const v = hello('viewer');
    v.send({ type: 'join', stream: 'live' });
    expect(errorCode(v.take())).toBe('unknown-stream');
    v.send({ type: 'join', stream: 'live', info: streamInfo('live') });
    expect(errorCode(v.take())).toBe('unauthorized');
    const b = broadcaster('live');
    v.send({ type: 'join', stream: 'live' });
    expect(v.take()).toEqual([
      { type: 'joined', info: streamInfo('live'), credential: expect.any(String) as string },
      neighbours('live', [b.peerId], []),
    ]);
    v.send({ type: 'join', stream: 'live' });
    expect(errorCode(v.take())).toBe('out-of-order');
  });

  it('sends neighbours only to the nodes whose lists changed, with their full lists', () => {
    const { broadcaster, viewer } = setup();
    const b = broadcaster();
    const v1 = viewer();
    expect(v1.take()).toEqual([
      { type: 'joined', info: streamInfo('live'), credential: expect.any(String) as string },
      neighbours('live', [b.peerId], []),
    ]);
    expect(b.take()).toEqual([neighbours('live', [], [v1.peerId])]);

    const v2 = viewer();
    expect(v2.take().slice(1)).toEqual([neighbours('live', [v1.peerId], [])]);
    expect(v1.take()).toEqual([neighbours('live', [b.peerId], [v2.peerId])]);
    expect(b.take()).toEqual([]);

    const v3 = viewer();
    expect(v3.take().slice(1)).toEqual([neighbours('live', [v1.peerId], [])]);
    expect(v1.take()).toEqual([neighbours('live', [b.peerId], [v2.peerId, v3.peerId])]);
    expect(v2.take()).toEqual([]);

    // v4 is the first at depth 3: it keeps a standby link to v3, in the other branch.
    const v4 = viewer();
    expect(v4.take().slice(1)).toEqual([neighbours('live', [v2.peerId], [], [v3.peerId])]);
    expect(v2.take()).toEqual([neighbours('live', [v1.peerId], [v4.peerId])]);
    expect(v3.take()).toEqual([neighbours('live', [v1.peerId], [], [], [v4.peerId])]);
    expect([...b.take(), ...v1.take()]).toEqual([]);
  });

  it('uses rootFanout and fanout for the default tree', () => {
    const { broadcaster, viewer, core } = setup({ rootFanout: 2, fanout: 1 });
    const b = broadcaster();
    const [v1, v2, v3] = [viewer(), viewer(), viewer()];
    const nodes = core.snapshot().streams[0]?.nodes ?? [];
    expect(nodes.map((n) => [n.id, n.children])).toEqual([
      [b.peerId, [v1.peerId, v2.peerId]],
      [v1.peerId, [v3.peerId]],
      [v2.peerId, []],
      [v3.peerId, []],
    ]);
  });

  it('relays a signal to a peer of the same stream as coming from the sender', () => {
    const { broadcaster, viewer } = setup();
    const b = broadcaster();
    const v = viewer();
    b.take();
    v.send({
      type: 'signal',
      to: b.peerId,
      data: { kind: 'candidate', candidate: 'c', mid: '0' },
    });
    expect(b.take()).toEqual([
      { type: 'signal', from: v.peerId, data: { kind: 'candidate', candidate: 'c', mid: '0' } },
    ]);
  });

  it('answers a signal to an unknown peer, itself or a peer of another stream with unknown-peer', () => {
    const { broadcaster, viewer, hello } = setup();
    broadcaster('a');
    const other = broadcaster('b');
    const v = viewer('a');
    v.take();
    const data = { kind: 'candidate', candidate: 'c', mid: '0' } as const;
    for (const to of ['nobody', v.peerId, other.peerId]) {
      v.send({ type: 'signal', to, data });
      expect(errorCode(v.take())).toBe('unknown-peer');
    }
    expect(other.take()).toEqual([]);
    const lonely = hello('viewer');
    lonely.send({ type: 'signal', to: other.peerId, data });
    expect(errorCode(lonely.take())).toBe('out-of-order');
  });

  it('fails a silent peer after heartbeatTimeoutMs, re-parents its orphans at once and tells only the affected', () => {
    const { broadcaster, viewer, runFor, core } = setup();
    const b = broadcaster();
    const [v1, v2, v3, v4, v5, v6] = [viewer(), viewer(), viewer(), viewer(), viewer(), viewer()];
    // b → v1 → (v2 → v4, v5), (v3 → v6)
    const everyone = [b, v1, v2, v3, v4, v5, v6];
    for (const client of everyone) client.take();
    const alive = [b, v1, v3, v4, v5, v6];
    runFor(2000, alive);
    expect(v2.closed).toBeUndefined();
    runFor(1000, alive);
    expect(v2.closed).toBe('heartbeat timeout');
    // The last leaf, v6, takes v2's place; its standby link to v2 goes, v4 and v5 keep theirs
    // to v3.
    expect(v1.take()).toEqual([neighbours('live', [b.peerId], [v6.peerId, v3.peerId])]);
    expect(v6.take()).toEqual([neighbours('live', [v1.peerId], [v4.peerId, v5.peerId])]);
    expect(v4.take()).toEqual([neighbours('live', [v6.peerId], [], [v3.peerId])]);
    expect(v5.take()).toEqual([neighbours('live', [v6.peerId], [], [v3.peerId])]);
    expect(v3.take()).toEqual([neighbours('live', [v1.peerId], [], [], [v4.peerId, v5.peerId])]);
    expect(b.take()).toEqual([]);
    expect(v2.take()).toEqual([]);
    const ids = core.snapshot().streams[0]?.nodes.map((n) => n.id);
    expect(ids).not.toContain(v2.peerId);
    expect(core.snapshot().connections).toBe(6);
    // Messages on the failed connection are ignored.
    v2.send({ type: 'heartbeat' });
    expect(v2.take()).toEqual([]);
  });

  it('keeps a peer that heartbeats and stores its last QoE sample', () => {
    const { broadcaster, viewer, runFor, core } = setup();
    const b = broadcaster();
    const v = viewer();
    runFor(10_000, [b, v]);
    expect(v.closed).toBeUndefined();
    const qoe = {
      playing: true,
      stalls: 1,
      stalledMs: 250,
      latencyMs: 2100,
      bytesFromPeers: 1000,
      bytesFromOrigin: 10,
      bytesUploaded: 500,
    };
    v.send({ type: 'heartbeat', qoe });
    v.send({ type: 'heartbeat' });
    const node = core.snapshot().streams[0]?.nodes.find((n) => n.id === v.peerId);
    expect(node?.qoe).toEqual(qoe);
  });

  it('repairs at once when a peer leaves, and keeps its connection for a later join', () => {
    const { broadcaster, viewer } = setup();
    const b = broadcaster();
    const [v1, v2, v3] = [viewer(), viewer(), viewer()];
    for (const client of [b, v1, v2, v3]) client.take();
    v1.send({ type: 'leave' });
    // v3 (the last leaf) takes v1's place under the broadcaster.
    expect(b.take()).toEqual([neighbours('live', [], [v3.peerId])]);
    expect(v3.take()).toEqual([neighbours('live', [b.peerId], [v2.peerId])]);
    expect(v2.take()).toEqual([neighbours('live', [v3.peerId], [])]);
    expect(v1.take()).toEqual([]);
    expect(v1.closed).toBeUndefined();
    v1.send({ type: 'leave' });
    expect(v1.take()).toEqual([]);
    v1.send({ type: 'join', stream: 'live' });
    expect(v1.take()).toEqual([
      { type: 'joined', info: streamInfo('live'), credential: expect.any(String) as string },
      neighbours('live', [v3.peerId], []),
    ]);
  });

  it('repairs at once when a connection is disconnected', () => {
    const { broadcaster, viewer, core } = setup();
    const b = broadcaster();
    const [v1, v2] = [viewer(), viewer()];
    for (const client of [b, v1, v2]) client.take();
    core.disconnect(v1.connectionId);
    core.disconnect(v1.connectionId);
    expect(b.take()).toEqual([neighbours('live', [], [v2.peerId])]);
    expect(v2.take()).toEqual([neighbours('live', [b.peerId], [])]);
    expect(v1.closed).toBeUndefined();
    expect(core.snapshot().connections).toBe(2);
  });

  it('ends the stream when the broadcaster leaves: viewers get no parents and the stream is gone', () => {
    const { broadcaster, viewer, core } = setup();
    const b = broadcaster();
    const [v1, v2] = [viewer(), viewer()];
    for (const client of [b, v1, v2]) client.take();
    b.send({ type: 'leave' });
    expect(v1.take()).toEqual([neighbours('live', [], [])]);
    expect(v2.take()).toEqual([neighbours('live', [], [])]);
    expect(core.snapshot().streams).toEqual([]);
    v1.send({
      type: 'signal',
      to: v2.peerId,
      data: { kind: 'candidate', candidate: 'c', mid: '0' },
    });
    expect(errorCode(v1.take())).toBe('out-of-order');
    v1.send({ type: 'join', stream: 'live' });
    expect(errorCode(v1.take())).toBe('unknown-stream');
    // The same broadcaster, or another, can start the stream again.
    b.send({ type: 'join', stream: 'live', info: streamInfo('live') });
    expect(b.take()[0]?.type).toBe('joined');
  });

  it('ends the stream when the broadcaster fails its heartbeats', () => {
    const { broadcaster, viewer, runFor, core } = setup();
    const b = broadcaster();
    const v = viewer();
    v.take();
    runFor(3000, [v]);
    expect(b.closed).toBe('heartbeat timeout');
    expect(v.take()).toEqual([neighbours('live', [], [])]);
    expect(core.snapshot().streams).toEqual([]);
  });

  it('answers rate-limited once when a connection exceeds its burst, and closes it under sustained abuse', () => {
    const { hello, clock } = setup({
      rateLimitPerSecond: 10,
      rateLimitBurst: 20,
      maxRateLimitedMessages: 30,
    });
    const client = hello('viewer');
    // The handshake took two tokens (hello, auth).
    for (let i = 0; i < 18; i++) client.send({ type: 'heartbeat' });
    expect(client.take()).toEqual([]);
    client.send({ type: 'heartbeat' });
    expect(errorCode(client.take())).toBe('rate-limited');
    client.send({ type: 'heartbeat' });
    expect(client.take()).toEqual([]);
    // A pause refills the bucket and forgives the drops.
    clock.advance(2000);
    for (let i = 0; i < 20; i++) client.send({ type: 'heartbeat' });
    expect(client.take()).toEqual([]);
    // Flooding at 100 messages per second is cut once 30 more have been dropped.
    for (let i = 0; i < 100 && client.closed === undefined; i++) {
      clock.advance(10);
      client.send({ type: 'heartbeat' });
    }
    expect(client.closed).toBe('rate limit exceeded');
  });

  it('answers a protocol error with its code and closes after maxProtocolErrors', () => {
    const { connect, core } = setup({ maxProtocolErrors: 3 });
    const client = connect();
    core.protocolError(client.connectionId, new ProtocolError('message-too-large', 'too big'));
    expect(client.take()).toEqual([
      { type: 'error', code: 'message-too-large', message: 'too big' },
    ]);
    // A code the tracker protocol does not have is reported as malformed.
    core.protocolError(client.connectionId, new ProtocolError('malformed-frame', 'odd'));
    expect(errorCode(client.take())).toBe('malformed-message');
    expect(client.closed).toBeUndefined();
    client.send({ type: 'leave' });
    expect(errorCode(client.take())).toBe('out-of-order');
    expect(client.closed).toBe('too many protocol errors');
    expect(core.snapshot().connections).toBe(0);
  });

  it('closes a connection that does not complete the handshake within handshakeTimeoutMs', () => {
    const { connect, authenticate, clock, core } = setup({ handshakeTimeoutMs: 500 });
    const silent = connect();
    const polite = connect();
    authenticate(polite, 'viewer');
    clock.advance(499);
    expect(silent.closed).toBeUndefined();
    clock.advance(1);
    expect(silent.closed).toBe('handshake timeout');
    expect(polite.closed).toBeUndefined();
    expect(core.snapshot().connections).toBe(1);
  });

  it('close() closes every connection once and refuses new ones', () => {
    const { broadcaster, viewer, core, clock } = setup();
    const b = broadcaster();
    const v = viewer();
    v.take();
    core.close();
    core.close();
    expect(b.closed).toBe('tracker closed');
    expect(v.closed).toBe('tracker closed');
    expect(v.take()).toEqual([]);
    expect(core.snapshot()).toEqual({ connections: 0, streams: [] });
    expect(() =>
      core.connect(
        () => undefined,
        () => undefined,
      ),
    ).toThrow(InvalidStateError);
    clock.advance(60_000);
    v.send({ type: 'heartbeat' });
    expect(v.take()).toEqual([]);
  });

  it('builds the topology the broadcaster names in its join, and refuses one from a viewer', () => {
    const { hello, viewer, core } = setup({ topology: 'mesh' });
    const b = hello('broadcaster');
    b.send({ type: 'join', stream: 'live', info: streamInfo('live'), topology: 'list' });
    const [v1, v2, v3] = [viewer(), viewer(), viewer()];
    expect(v3.take()).toEqual([
      { type: 'joined', info: streamInfo('live'), credential: expect.any(String) as string },
      neighbours('live', [v2.peerId], [], [v1.peerId, b.peerId]),
    ]);
    expect(v1.take().at(-1)).toEqual(neighbours('live', [b.peerId], [v2.peerId], [], [v3.peerId]));
    const [stream] = core.snapshot().streams;
    expect(stream?.topology).toBe('list');
    expect(stream?.nodes[0]?.backupChildren).toEqual([v2.peerId, v3.peerId]);
    // The tracker's default applies when the join names none.
    const other = hello('broadcaster');
    other.send({ type: 'join', stream: 'other', info: streamInfo('other') });
    expect(core.snapshot().streams[1]?.topology).toBe('mesh');
    const late = hello('viewer');
    late.send({ type: 'join', stream: 'live', topology: 'tree' });
    expect(errorCode(late.take())).toBe('unauthorized');
  });

  it('passes the stream bitrate, from the stream info or else the bitrateKbps option, to the topology factory', () => {
    const seen: (number | undefined)[] = [];
    const factory = treeTopology();
    const { hello } = setup({
      bitrateKbps: 800,
      topologies: {
        tree: (rootId, context) => {
          seen.push(context?.bitrateKbps);
          return factory(rootId, context);
        },
      },
    });
    hello('broadcaster').send({
      type: 'join',
      stream: 'a',
      info: { ...streamInfo('a'), bitrateKbps: 1200 },
    });
    hello('broadcaster').send({ type: 'join', stream: 'b', info: streamInfo('b') });
    expect(seen).toEqual([1200, 800]);
    expect(() => setup({ bitrateKbps: 0 })).toThrow(/bitrateKbps/);
  });

  it.each(['list', 'tree', 'mesh'] as const)(
    'keeps every peer’s view, built only from the neighbours messages it received, equal to the %s topology through 1500 random joins, leaves and failures',
    (kind) => {
      const { connect, authenticate, core } = setup({ topology: kind, bitrateKbps: 1000 });
      const random = new SeededRandom(kind.length * 101);
      interface View {
        parents: string[];
        children: string[];
        backupParents: string[];
        backupChildren: string[];
      }
      const views = new Map<string, View>();
      /** A peer that applies every neighbours message it gets, as the peer core does. */
      const peer = (role: 'viewer' | 'broadcaster'): FakeClient => {
        const client = connect();
        const uploadKbps = random.next() < 0.2 ? undefined : random.int(4000);
        const [welcome] = authenticate(
          client,
          role,
          uploadKbps === undefined ? {} : { uploadKbps },
        );
        client.peerId = welcome?.type === 'welcome' ? welcome.peerId : '';
        return client;
      };
      const drain = (client: FakeClient): void => {
        for (const message of client.take()) {
          if (message.type === 'neighbours') {
            const { parents, children, backupParents, backupChildren } = message;
            views.set(client.peerId, { parents, children, backupParents, backupChildren });
          }
        }
      };
      const b = peer('broadcaster');
      b.send({ type: 'join', stream: 'live', info: streamInfo('live') });
      const joined: FakeClient[] = [];
      const idle: FakeClient[] = [];
      const problems: string[] = [];
      for (let step = 0; step < 1500 && problems.length === 0; step++) {
        const growing = Math.floor(step / 300) % 2 === 0;
        const roll = random.next();
        if (joined.length === 0 || roll < (growing ? 0.65 : 0.35)) {
          const client = idle.pop() ?? peer('viewer');
          client.send({ type: 'join', stream: 'live' });
          joined.push(client);
        } else {
          const [client] = joined.splice(random.int(joined.length), 1);
          if (client === undefined) continue;
          if (random.next() < 0.5) {
            client.send({ type: 'leave' });
            idle.push(client);
          } else {
            core.disconnect(client.connectionId);
          }
          views.delete(client.peerId);
          client.take();
        }
        for (const client of [b, ...joined]) drain(client);
        if (step % 10 !== 0) continue;
        const nodes = core.snapshot().streams[0]?.nodes ?? [];
        if (nodes.length !== joined.length + 1)
          problems.push(`step ${step}: ${nodes.length} nodes`);
        const inverse = new Map<string, string[]>();
        for (const node of nodes) {
          for (const backup of node.backupParents) {
            inverse.set(backup, [...(inverse.get(backup) ?? []), node.id]);
          }
        }
        for (const node of nodes) {
          const view = views.get(node.id);
          const expected = {
            parents: node.parents,
            children: node.children,
            backupParents: node.backupParents,
            backupChildren: [...(inverse.get(node.id) ?? [])].sort(),
          };
          const seen =
            view === undefined
              ? undefined
              : { ...view, backupChildren: [...view.backupChildren].sort() };
          if (JSON.stringify(seen) !== JSON.stringify(expected)) {
            problems.push(
              `step ${step}: ${node.id} sees ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`,
            );
          }
        }
      }
      expect(problems).toEqual([]);
    },
  );

  it('rejects invalid options at construction', () => {
    expect(() => setup({ heartbeatIntervalMs: 0 })).toThrow(SwarmcastError);
    expect(() => setup({ heartbeatIntervalMs: 3000, heartbeatTimeoutMs: 3000 })).toThrow(/longer/);
    expect(() => setup({ fanout: 0 })).toThrow(/fanout/);
    expect(() => setup({ rateLimitBurst: 0.5 })).toThrow(/rateLimitBurst/);
  });
});

describe('TrackerCore.setTopology', { timeout: TIMEOUT_MS }, () => {
  interface Lists {
    parents: string[];
    children: string[];
    backupParents: string[];
    backupChildren: string[];
  }

  /** Applies the neighbours messages each client got, as the peer core does. */
  function drain(clients: readonly FakeClient[], views: Map<string, Lists>): number {
    let told = 0;
    for (const client of clients) {
      for (const message of client.take()) {
        if (message.type !== 'neighbours') continue;
        told++;
        const { parents, children, backupParents, backupChildren } = message;
        views.set(client.peerId, { parents, children, backupParents, backupChildren });
      }
    }
    return told;
  }

  /** Every member's view equals the snapshot, and every viewer's parents lead to the broadcaster. */
  function checkViews(core: TrackerCore, views: ReadonlyMap<string, Lists>): void {
    const nodes = core.snapshot().streams[0]?.nodes ?? [];
    const byId = new Map(nodes.map((n) => [n.id, n]));
    for (const node of nodes) {
      const view = views.get(node.id);
      expect(view, node.id).toEqual({
        parents: node.parents,
        children: node.children,
        backupParents: node.backupParents,
        backupChildren: node.backupChildren,
      });
      let at = node;
      for (let hops = 0; at.role !== 'broadcaster'; hops++) {
        expect(hops).toBeLessThan(nodes.length);
        const parent = byId.get(at.parents[0] ?? '');
        if (parent === undefined) throw new Error(`${at.id} has no parent in the stream`);
        at = parent;
      }
    }
  }

  it('rebuilds a live stream as another topology, keeps its viewers in order and tells each member its new lists', () => {
    const { broadcaster, viewer, core } = setup({ topology: 'list' });
    const b = broadcaster();
    const viewers = Array.from({ length: 7 }, () => viewer());
    const views = new Map<string, Lists>();
    drain([b, ...viewers], views);
    const before = core.snapshot().streams[0];
    expect(before?.topology).toBe('list');
    expect(before?.nodes.every((n) => n.children.length <= 1)).toBe(true);

    expect(core.setTopology('live', 'tree')).toBe(true);
    expect(drain([b, ...viewers], views)).toBeGreaterThan(0);
    const after = core.snapshot().streams[0];
    expect(after?.topology).toBe('tree');
    expect(after?.nodes.map((n) => n.id)).toEqual(before?.nodes.map((n) => n.id));
    expect(after?.nodes.some((n) => n.role === 'viewer' && n.children.length === 2)).toBe(true);
    checkViews(core, views);

    // Joins and failures go on in the new topology.
    const late = viewer();
    viewers[2]?.send({ type: 'leave' });
    drain([b, ...viewers, late], views);
    views.delete(viewers[2]?.peerId ?? '');
    checkViews(core, views);
    expect(core.snapshot().streams[0]?.nodes).toHaveLength(8);

    expect(core.setTopology('live', 'mesh')).toBe(true);
    drain([b, ...viewers, late], views);
    expect(core.snapshot().streams[0]?.topology).toBe('mesh');
    checkViews(core, views);
  });

  it('returns false for an unknown stream and tells no one', () => {
    const { broadcaster, viewer, core } = setup();
    const b = broadcaster();
    const v = viewer();
    b.take();
    v.take();
    expect(core.setTopology('other', 'mesh')).toBe(false);
    expect([...b.take(), ...v.take()]).toEqual([]);
    expect(core.snapshot().streams[0]?.topology).toBe('tree');
  });
});

describe('TrackerCore reports and eviction', { timeout: TIMEOUT_MS }, () => {
  /** A binary tree under one root child, without standby links. */
  const TREE: TrackerOptions = {
    topology: 'tree',
    topologies: { tree: treeTopology({ stripes: 1, rootFanout: 1, fanout: 2, backupParents: 0 }) },
  };

  /** A viewer that authenticates with `key` and joins `live`; returns it with what it was told. */
  function keyedViewer(
    t: ReturnType<typeof setup>,
    key: ReturnType<typeof generateNodeSigner>,
  ): FakeClient {
    const client = t.connect();
    client.send({
      type: 'hello',
      version: TRACKER_PROTOCOL_VERSION,
      role: 'viewer',
      publicKey: key.publicKey,
    });
    const [challenge] = client.take();
    if (challenge?.type !== 'challenge') throw new Error('no challenge');
    const signed = authMessage(
      fromBase64Url(challenge.nonce),
      key.publicKey,
      'viewer',
      challenge.trackerKey,
    );
    client.send({ type: 'auth', signature: toBase64Url(key.signSync(signed)) });
    const [welcome] = client.take();
    if (welcome?.type !== 'welcome') throw new Error('no welcome');
    client.peerId = welcome.peerId;
    client.send({ type: 'join', stream: 'live' });
    return client;
  }

  /** The broadcaster, a relay `r` (its only child) and `r`'s two children `a` and `c`. */
  function relayWithTwoChildren() {
    const t = setup(TREE);
    const b = t.broadcaster();
    const relayKey = generateNodeSigner();
    const r = keyedViewer(t, relayKey);
    const a = t.viewer();
    const c = t.viewer();
    const parentsOf = (id: string) =>
      t.core.snapshot().streams[0]?.nodes.find((n) => n.id === id)?.parents ?? [];
    expect(parentsOf(a.peerId)).toEqual([r.peerId]);
    expect(parentsOf(c.peerId)).toEqual([r.peerId]);
    for (const client of [b, r, a, c]) client.take();
    return { ...t, b, r, a, c, relayKey, parentsOf };
  }

  it('tracker.receive(report) from one neighbour demotes the peer but never evicts it', () => {
    const { b, r, a, c, core, parentsOf, runFor } = relayWithTwoChildren();
    a.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 12 });
    // It feeds `c` too: it keeps its place for `c` to witness what it sends…
    expect(parentsOf(c.peerId)).toEqual([r.peerId]);
    runFor(TRACKER_DEFAULTS.witnessWindowMs + 100, [b, r, a, c]);
    // … and, no second report having come, is demoted: it feeds neither of its former children
    // any more, and is still a member.
    expect(parentsOf(a.peerId)).not.toContain(r.peerId);
    expect(parentsOf(c.peerId)).not.toContain(r.peerId);
    expect(core.snapshot().streams[0]?.nodes.map((n) => n.id)).toContain(r.peerId);
    // The same reporter again, for another chunk and another reason, changes nothing.
    a.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 13 });
    a.send({ type: 'report', peer: r.peerId, reason: 'protocol-violation' });
    expect(r.closed).toBeUndefined();
    expect(r.take().some((m) => m.type === 'error')).toBe(false);
    expect([...a.take(), ...c.take()].some((m) => m.type === 'revoked')).toBe(false);
  });

  it('tracker.receive(report) from two distinct neighbours evicts the peer, closes it and tells every member', () => {
    const { b, r, a, c, core, parentsOf } = relayWithTwoChildren();
    c.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 12 });
    // Within the witness window `r` still feeds `a`, whose report then evicts it.
    expect(parentsOf(a.peerId)).toEqual([r.peerId]);
    a.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 13 });
    expect(r.closed).toBe('evicted');
    expect(r.take().at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect(core.snapshot().streams[0]?.nodes.map((n) => n.id)).not.toContain(r.peerId);
    for (const member of [b, a, c]) {
      expect(member.take()).toContainEqual({ type: 'revoked', peer: r.peerId });
    }
  });

  it('tracker.receive(report) demotes at once a peer that feeds no one but its reporter', () => {
    const t = setup(TREE);
    const b = t.broadcaster();
    const r = t.viewer();
    const a = t.viewer();
    const parentsOf = (id: string) =>
      t.core.snapshot().streams[0]?.nodes.find((n) => n.id === id)?.parents ?? [];
    expect(parentsOf(a.peerId)).toEqual([r.peerId]);
    for (const client of [b, r, a]) client.take();
    a.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 3 });
    expect(parentsOf(a.peerId)).not.toContain(r.peerId);
    expect(r.closed).toBeUndefined();
  });

  it('a first report has a member that did not report the peer probe it, and that witness’s report evicts it', () => {
    // A chain: b → r → a → w → x. `a` reports `r`, which feeds no one else: it is demoted at once
    // to the end of the chain, and one of `w` and `x` is asked to probe it.
    const chain: TrackerOptions = {
      topology: 'tree',
      topologies: {
        tree: treeTopology({ stripes: 1, rootFanout: 1, fanout: 1, backupParents: 0 }),
      },
    };
    const t = setup(chain);
    const b = t.broadcaster();
    const [r, a, w, x] = [t.viewer(), t.viewer(), t.viewer(), t.viewer()];
    const clients = [b, r, a, w, x];
    for (const client of clients) client.take();
    const probesOf = (client: FakeClient) =>
      client.take().filter((m) => m.type === 'probe' && m.peer === r.peerId).length;

    a.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 7 });
    const asked = [b, r, a, w, x].filter((client) => probesOf(client) > 0);
    expect(asked).toHaveLength(1);
    const [first] = asked;
    expect([w, x]).toContain(first);
    // No report from it: `PROBE_RETRY_MS` (5 s) later the other one is asked, and no one after.
    t.runFor(5000, clients);
    const other = first === w ? x : w;
    expect(probesOf(other)).toBe(1);
    t.runFor(10_000, clients);
    expect(clients.map(probesOf)).toEqual([0, 0, 0, 0, 0]);
    expect(r.closed).toBeUndefined();
    // The second witness finds it answers nothing: its report is the second, and evicts it.
    other.send({ type: 'report', peer: r.peerId, reason: 'unresponsive' });
    expect(r.closed).toBe('evicted');
  });

  it('a peer reported before any other viewer joined is probed by the first one that joins', () => {
    const t = setup(TREE);
    const b = t.broadcaster();
    const r = t.viewer();
    for (const client of [b, r]) client.take();
    // Its first link is to the broadcaster, whose report leaves no one to witness it yet.
    b.send({ type: 'report', peer: r.peerId, reason: 'protocol-violation' });
    t.runFor(3000, [b, r]);
    const w = t.viewer();
    const clients = [b, r, w];
    const probesOf = (client: FakeClient) =>
      client.take().filter((m) => m.type === 'probe' && m.peer === r.peerId).length;
    t.runFor(1000, clients);
    expect(clients.map(probesOf)).toEqual([0, 0, 1]);
    w.send({ type: 'report', peer: r.peerId, reason: 'protocol-violation' });
    expect(r.closed).toBe('evicted');
  });

  it('two reports of silence only cut the peer, without banning its key or revoking it', () => {
    const t = relayWithTwoChildren();
    t.a.send({ type: 'report', peer: t.r.peerId, reason: 'unresponsive' });
    t.c.send({ type: 'report', peer: t.r.peerId, reason: 'unresponsive' });
    expect(t.r.closed).toBe('unresponsive');
    expect(t.core.snapshot().streams[0]?.nodes.map((n) => n.id)).not.toContain(t.r.peerId);
    expect([...t.a.take(), ...t.c.take()].some((m) => m.type === 'revoked')).toBe(false);
    // Silence is no proof of malice: the same key may join again.
    const again = keyedViewer(t, t.relayKey);
    expect(again.take().some((m) => m.type === 'joined')).toBe(true);
  });

  it('tracker.receive(join) refuses a key that was evicted from the stream, but not a fresh one', () => {
    const t = relayWithTwoChildren();
    t.a.send({ type: 'report', peer: t.r.peerId, reason: 'bad-chunk', seq: 1 });
    t.c.send({ type: 'report', peer: t.r.peerId, reason: 'bad-chunk', seq: 2 });
    expect(t.r.closed).toBe('evicted');

    const again = keyedViewer(t, t.relayKey);
    expect(again.take().at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect(again.closed).toBeDefined();
    expect(t.core.snapshot().streams[0]?.nodes.map((n) => n.id)).not.toContain(again.peerId);

    const fresh = t.viewer();
    expect(fresh.take().some((m) => m.type === 'joined')).toBe(true);
  });

  it('tracker.receive(report) refuses reports of a non-neighbour, of itself and before join, and ignores unknown peers', () => {
    const t = setup(TREE);
    const b = t.broadcaster();
    const r = t.viewer();
    const a = t.viewer();
    const c = t.viewer();
    const d = t.viewer(); // a child of `a`: no neighbour of `c`
    for (const client of [b, r, a, c, d]) client.take();
    c.send({ type: 'report', peer: d.peerId, reason: 'bad-chunk', seq: 1 });
    expect(errorCode(c.take())).toBe('unauthorized');
    c.send({ type: 'report', peer: c.peerId, reason: 'bad-chunk', seq: 1 });
    expect(errorCode(c.take())).toBe('unauthorized');
    c.send({ type: 'report', peer: b.peerId, reason: 'bad-chunk', seq: 1 });
    expect(errorCode(c.take())).toBe('unauthorized');
    c.send({ type: 'report', peer: 'nobody', reason: 'bad-chunk', seq: 1 });
    expect(c.take()).toEqual([]);
    const outsider = t.hello('viewer');
    outsider.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 1 });
    expect(errorCode(outsider.take())).toBe('out-of-order');
    expect(t.core.snapshot().streams[0]?.nodes).toHaveLength(5);
  });

  it('a report counts only within reportWindowMs of the two peers ceasing to be neighbours', () => {
    const { r, a, c, runFor, b, parentsOf } = relayWithTwoChildren();
    c.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 12 });
    runFor(TRACKER_DEFAULTS.witnessWindowMs + 100, [b, r, a, c]);
    // `c` took the relay's place and the demoted relay re-joined under it, beside `a`: `a` is
    // no neighbour of it any more.
    expect(parentsOf(r.peerId)).toEqual([c.peerId]);
    expect(parentsOf(a.peerId)).toEqual([c.peerId]);
    runFor(TRACKER_DEFAULTS.reportWindowMs + 1000, [b, r, a, c]);
    a.take();
    a.send({ type: 'report', peer: r.peerId, reason: 'bad-chunk', seq: 13 });
    expect(errorCode(a.take())).toBe('unauthorized');
    expect(r.closed).toBeUndefined();
  });

  it('rejects evictionReports below 2', () => {
    expect(() => setup({ evictionReports: 1 })).toThrow(SwarmcastError);
  });
});

describe('TrackerCore silent signals', { timeout: TIMEOUT_MS }, () => {
  const MULTI_TREE: TrackerOptions = {
    topology: 'tree',
    topologies: { tree: treeTopology({ stripes: 2, rootFanout: 1, fanout: 2 }) },
  };

  /** A multi-tree of eight viewers, and a viewer `p` that feeds at least two of them. */
  function swarm() {
    const t = setup(MULTI_TREE);
    const b = t.broadcaster();
    const viewers = Array.from({ length: 8 }, () => t.viewer());
    const node = (id: string) => t.core.snapshot().streams[0]?.nodes.find((n) => n.id === id);
    const p = viewers.find((v) => (node(v.peerId)?.children.length ?? 0) >= 2);
    if (p === undefined) throw new Error('no viewer feeds two others');
    const [c, d] = (node(p.peerId)?.children ?? []).map((id) => {
      const child = viewers.find((v) => v.peerId === id);
      if (child === undefined) throw new Error(`no viewer ${id}`);
      return child;
    });
    if (c === undefined || d === undefined) throw new Error('no children');
    const clients = [b, ...viewers];
    for (const client of clients) client.take();
    const probesOf = (client: FakeClient) =>
      client.take().filter((m) => m.type === 'probe' && m.peer === p.peerId).length;
    return { ...t, b, viewers, clients, node, p, c, d, probesOf };
  }

  it('tracker.receive(silent) from a child demotes its parent at once to a node that feeds no one, newcomers included, and has witnesses other than the child probe it', () => {
    const t = swarm();
    t.c.send({ type: 'silent', peer: t.p.peerId });
    // Re-wired at once, without a witness window: `p` feeds neither child any more…
    expect(t.node(t.c.peerId)?.parents).not.toContain(t.p.peerId);
    expect(t.node(t.d.peerId)?.parents).not.toContain(t.p.peerId);
    expect(t.node(t.p.peerId)?.children).toEqual([]);
    // … nor anyone who joins after, and it still has a parent per stripe.
    for (let i = 0; i < 6; i++) t.viewer();
    expect(t.node(t.p.peerId)?.children).toEqual([]);
    expect(t.node(t.p.peerId)?.parents).toHaveLength(2);
    // `evictionReports` witnesses and a spare probe it at once, the signalling child not among them.
    const asked = t.clients.filter((client) => t.probesOf(client) > 0);
    expect(asked).toHaveLength(TRACKER_DEFAULTS.evictionReports + 1);
    expect(asked).not.toContain(t.c);
    expect(asked).not.toContain(t.p);
    expect(asked).not.toContain(t.b);
  });

  it('tracker.receive(silent) counts toward no eviction: every child signalling leaves the parent connected, and two witnesses’ reports cut it', () => {
    const t = swarm();
    t.c.send({ type: 'silent', peer: t.p.peerId });
    t.d.send({ type: 'silent', peer: t.p.peerId });
    expect(t.p.closed).toBeUndefined();
    expect(t.node(t.p.peerId)).toBeDefined();
    const [first, second] = t.clients.filter((client) => t.probesOf(client) > 0);
    if (first === undefined || second === undefined) throw new Error('fewer than two witnesses');
    first.send({ type: 'report', peer: t.p.peerId, reason: 'unresponsive' });
    expect(t.p.closed).toBeUndefined();
    second.send({ type: 'report', peer: t.p.peerId, reason: 'unresponsive' });
    expect(t.p.closed).toBe('unresponsive');
  });

  it('tracker.receive(silent) refuses a non-neighbour and a signal before join, and ignores a child, the broadcaster, a repeat and signals past maxOpenReports', () => {
    const t = swarm();
    const stranger = t.viewers.find(
      (v) =>
        v !== t.p &&
        ![...(t.node(v.peerId)?.parents ?? []), ...(t.node(v.peerId)?.children ?? [])].includes(
          t.p.peerId,
        ),
    );
    if (stranger === undefined) throw new Error('every viewer is a neighbour of p');
    stranger.send({ type: 'silent', peer: t.p.peerId });
    expect(errorCode(stranger.take())).toBe('unauthorized');
    const outsider = t.hello('viewer');
    outsider.send({ type: 'silent', peer: t.p.peerId });
    expect(errorCode(outsider.take())).toBe('out-of-order');
    // A parent that calls its child silent, and a viewer that calls the broadcaster silent: no
    // re-wiring, no error.
    t.p.send({ type: 'silent', peer: t.c.peerId });
    const root = t.viewers.find((v) => t.node(v.peerId)?.parents.includes(t.b.peerId));
    root?.send({ type: 'silent', peer: t.b.peerId });
    expect(t.node(t.c.peerId)?.parents).toContain(t.p.peerId);
    expect(t.clients.map(t.probesOf)).toEqual(t.clients.map(() => 0));
    expect([...t.p.take(), ...(root?.take() ?? [])].some((m) => m.type === 'error')).toBe(false);
    // One demotion per signal: `c` signals each new parent in turn, and is heard
    // `maxOpenReports` times within `reportWindowMs`.
    const demoted: string[] = [];
    for (let i = 0; i < TRACKER_DEFAULTS.maxOpenReports + 1; i++) {
      const parent = t.node(t.c.peerId)?.parents.find((id) => id !== t.b.peerId);
      if (parent === undefined) throw new Error('c hangs on the broadcaster only');
      t.c.send({ type: 'silent', peer: parent });
      if (!(t.node(t.c.peerId)?.parents ?? []).includes(parent)) demoted.push(parent);
      t.c.send({ type: 'silent', peer: parent });
    }
    expect(demoted).toHaveLength(TRACKER_DEFAULTS.maxOpenReports);
    expect(new Set(demoted).size).toBe(demoted.length);
  });

  it('a witness that leaves while probing a reported peer is replaced at once, not a retry later', () => {
    const t = swarm();
    t.c.send({ type: 'report', peer: t.p.peerId, reason: 'bad-chunk', seq: 4 });
    t.runFor(TRACKER_DEFAULTS.witnessWindowMs + 100, t.clients);
    const asked = t.clients.filter((client) => t.probesOf(client) > 0);
    expect(asked).toHaveLength(1);
    const [gone] = asked;
    if (gone === undefined) throw new Error('no witness');
    gone.send({ type: 'leave' });
    const now = t.clients.filter((client) => client !== gone && t.probesOf(client) > 0);
    expect(now).toHaveLength(1);
    expect(now).not.toContain(t.c);
  });
});
