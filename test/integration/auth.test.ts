/**
 * Authentication against a real `TrackerServer` over WebSocket (raw clients that speak the JSON
 * protocol by hand), and credentials on real WebRTC data channels (node-datachannel): who is
 * refused, and that the honest path still works.
 */
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { issueCredential, verifyCredential } from '../../src/crypto/credentials.js';
import {
  generateNodeSigner,
  nodeSignatureCheck,
  settledSignatureCheck,
} from '../../src/crypto/ed25519.node.js';
import type { SyncSigner } from '../../src/crypto/keys.js';
import type { PeerCore } from '../../src/peer/core.js';
import { createNodePeer } from '../../src/peer/peer.node.js';
import { encodeFrame, FrameType } from '../../src/protocol/frames.js';
import type { StreamInfo, TrackerMessage } from '../../src/protocol/tracker.js';
import { TrackerServer, type TrackerServerOptions } from '../../src/tracker/server.js';
import { RtcTransport } from '../../src/transport/rtc.node.js';
import { WsTrackerConnection } from '../../src/transport/tracker-ws.node.js';
import type { Link } from '../../src/transport/types.js';
import { TestClient, authFor, helloFor, terminateClients } from '../helpers/tracker-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

const SECRET = 'a-join-secret-of-24-chars';

function info(stream: string, publicKey: string): StreamInfo {
  return {
    stream,
    publicKey,
    chunkDurationMs: 500,
    segmentDurationMs: 2000,
    originUrl: 'http://127.0.0.1:8080',
  };
}

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  terminateClients();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(
  options: TrackerServerOptions = {},
  signer: SyncSigner = generateNodeSigner(),
): Promise<{ server: TrackerServer; url: string }> {
  const server = new TrackerServer({ logger: silentLogger, signer }, options);
  cleanups.push(() => server.close());
  return { server, url: await server.listen() };
}

/** The viewers of a stream in the tracker's snapshot. */
function members(server: TrackerServer): string[] {
  return server.core.snapshot().streams.flatMap((s) => s.nodes.map((n) => n.id));
}

describe('tracker authentication', { timeout: 20_000 }, () => {
  it('refuses a client that joins, signals or answers without completing the handshake', async () => {
    const broadcaster = generateNodeSigner();
    const { server, url } = await start({ broadcasters: [{ publicKey: broadcaster.publicKey }] });
    const b = await TestClient.open(url, { key: broadcaster });
    await (await b.hello('broadcaster')).join(info('live', broadcaster.publicKey));

    const intruder = await TestClient.open(url);
    intruder.send({ type: 'join', stream: 'live' });
    expect(await intruder.next('error')).toMatchObject({ code: 'out-of-order' });
    intruder.send({
      type: 'signal',
      to: b.peerId,
      data: { kind: 'candidate', candidate: 'x', mid: '0' },
    });
    expect(await intruder.next('error')).toMatchObject({ code: 'out-of-order' });
    // hello alone is not enough: a join before the challenge is answered is refused too.
    intruder.send(helloFor(intruder.key, 'viewer'));
    await intruder.next('challenge');
    intruder.send({ type: 'join', stream: 'live' });
    expect(await intruder.next('error')).toMatchObject({ code: 'out-of-order' });
    // A signature by another key than the one in hello: refused, and the connection is cut.
    const other = generateNodeSigner();
    intruder.send(helloFor(intruder.key, 'viewer'));
    intruder.send(authFor(other, 'viewer', await intruder.next('challenge')));
    expect(await intruder.next('error')).toMatchObject({ code: 'unauthorized' });
    expect(await intruder.closed).toEqual({ code: 1008, reason: 'authentication failed' });
    expect(members(server)).toEqual([b.peerId]);
    expect(intruder.received.some((m) => m.type === 'welcome' || m.type === 'joined')).toBe(false);
  });

  it('refuses a replayed handshake: an auth captured on one connection fails on another', async () => {
    const { server, url } = await start({ broadcasters: 'any' });
    const victim = await TestClient.open(url);
    const hello = helloFor(victim.key, 'viewer');
    victim.send(hello);
    const challenge = await victim.next('challenge');
    const captured = authFor(victim.key, 'viewer', challenge);
    victim.send(captured);
    await victim.next('welcome');

    // The attacker replays the victim's hello and auth word for word on its own connection.
    const attacker = await TestClient.open(url);
    attacker.send(hello);
    const fresh = await attacker.next('challenge');
    expect(fresh.nonce).not.toBe(challenge.nonce);
    expect(fresh.trackerKey).toBe(challenge.trackerKey);
    attacker.send(captured);
    expect(await attacker.next('error')).toMatchObject({ code: 'unauthorized' });
    expect((await attacker.closed).code).toBe(1008);
    // And on the victim's own connection, once used, the auth is worth nothing either.
    victim.send(captured);
    expect(await victim.next('error')).toMatchObject({ code: 'out-of-order' });
    expect(server.core.snapshot().connections).toBe(1);
  });

  it('cuts a slow client that never answers the challenge once the handshake timeout passes', async () => {
    const { server, url } = await start({ handshakeTimeoutMs: 300 });
    const slow = await TestClient.open(url);
    const startedMs = Date.now();
    slow.send(helloFor(slow.key, 'viewer'));
    await slow.next('challenge');
    const prompt = await (await TestClient.open(url)).hello('viewer');
    expect(await slow.closed).toEqual({ code: 1008, reason: 'handshake timeout' });
    const elapsedMs = Date.now() - startedMs;
    expect(elapsedMs).toBeGreaterThanOrEqual(250);
    expect(elapsedMs).toBeLessThan(2000);
    await sleep(400);
    expect(prompt.socket.readyState).toBe(prompt.socket.OPEN);
    expect(server.core.snapshot().connections).toBe(1);
  });

  it('refuses a broadcaster whose key is not registered, or registered for another stream', async () => {
    const registered = generateNodeSigner();
    const forOther = generateNodeSigner();
    const { server, url } = await start({
      broadcasters: [
        { publicKey: registered.publicKey, stream: 'live' },
        { publicKey: forOther.publicKey, stream: 'other' },
      ],
    });
    const stranger = await (await TestClient.open(url)).hello('broadcaster');
    stranger.send({ type: 'join', stream: 'live', info: info('live', stranger.key.publicKey) });
    expect(await stranger.next('error')).toMatchObject({
      code: 'unauthorized',
      message: 'this key is not registered to broadcast live',
    });
    const wrongStream = await (await TestClient.open(url, { key: forOther })).hello('broadcaster');
    wrongStream.send({ type: 'join', stream: 'live', info: info('live', forOther.publicKey) });
    expect(await wrongStream.next('error')).toMatchObject({ code: 'unauthorized' });
    expect(server.core.snapshot().streams).toEqual([]);

    const owner = await (await TestClient.open(url, { key: registered })).hello('broadcaster');
    await owner.join(info('live', registered.publicKey));
    expect(members(server)).toEqual([owner.peerId]);
  });

  it('issues a credential in joined, signed by the key of the challenge, and a fresh one before it expires', async () => {
    const trackerKey = generateNodeSigner();
    const { url } = await start({ broadcasters: 'any', credentialTtlMs: 600 }, trackerKey);
    const b = await TestClient.open(url);
    b.send(helloFor(b.key, 'broadcaster'));
    const challenge = await b.next('challenge');
    expect(challenge.trackerKey).toBe(trackerKey.publicKey);
    b.send(authFor(b.key, 'broadcaster', challenge));
    b.peerId = (await b.next('welcome')).peerId;
    const issuedMs = Date.now();
    const token = await b.join(info('live', b.key.publicKey));
    const expected = {
      trackerKey: challenge.trackerKey,
      check: settledSignatureCheck(nodeSignatureCheck()),
      nowMs: Date.now(),
      stream: 'live',
      peerId: b.peerId,
    };
    const credential = await verifyCredential(token, expected);
    expect(credential).toMatchObject({ role: 'broadcaster', publicKey: b.key.publicKey });
    expect(credential.expiresAtMs - issuedMs).toBeGreaterThan(500);
    expect(credential.expiresAtMs - issuedMs).toBeLessThanOrEqual(700);
    // Half the lifetime gone: the next heartbeat brings a fresh credential.
    await sleep(350);
    b.send({ type: 'heartbeat' });
    const fresh = await b.next('credential');
    const renewed = await verifyCredential(fresh.credential, { ...expected, nowMs: Date.now() });
    expect(renewed.expiresAtMs).toBeGreaterThan(credential.expiresAtMs);
  });
});

describe('tracker admission', { timeout: 20_000 }, () => {
  it('secret: admits a viewer with the right secret and refuses a wrong or missing one', async () => {
    const { url } = await start({ admission: { mode: 'secret', secret: SECRET } });
    const good = await (await TestClient.open(url)).hello('viewer', { admission: SECRET });
    expect(good.peerId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    for (const admission of [`${SECRET}x`, undefined]) {
      const bad = await TestClient.open(url);
      bad.send(helloFor(bad.key, 'viewer', admission === undefined ? {} : { admission }));
      bad.send(authFor(bad.key, 'viewer', await bad.next('challenge')));
      const error = await bad.next('error');
      expect(error.code).toBe('unauthorized');
      expect(error.message).toMatch(admission === undefined ? /needs a join secret/ : /wrong/);
      expect((await bad.closed).code).toBe(1008);
    }
    expect(
      () =>
        new TrackerServer(
          { logger: silentLogger },
          { admission: { mode: 'secret', secret: 'short' } },
        ),
    ).toThrow(/16/);
  });

  it('jwt: admits a valid token (limited to its stream claim) and refuses expired or foreign ones', async () => {
    const site = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const broadcaster = generateNodeSigner();
    const { url } = await start({
      broadcasters: [{ publicKey: broadcaster.publicKey }],
      admission: { mode: 'jwt', publicKey: await exportSPKI(site.publicKey), issuer: 'site' },
    });
    const token = (
      claims: Record<string, unknown>,
      expiresIn: string | number,
      key = site.privateKey,
    ) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer('site')
        .setExpirationTime(expiresIn)
        .sign(key);
    const b = await (await TestClient.open(url, { key: broadcaster })).hello('broadcaster');
    await b.join(info('live', broadcaster.publicKey));

    const viewer = await (
      await TestClient.open(url)
    ).hello('viewer', { admission: await token({}, '5m') });
    expect(await viewer.join()).toMatch(/^[A-Za-z0-9_-]+$/);

    const limited = await (
      await TestClient.open(url)
    ).hello('viewer', {
      admission: await token({ stream: 'other' }, '5m'),
    });
    limited.send({ type: 'join', stream: 'live' });
    expect(await limited.next('error')).toMatchObject({
      code: 'unauthorized',
      message: 'admitted to stream other only',
    });

    const refusals: [string, RegExp][] = [
      [await token({}, Math.floor(Date.now() / 1000) - 10), /expired/],
      [await token({}, '5m', stranger.privateKey), /bad token/],
      ['not.a.token', /bad token/],
    ];
    for (const [admission, reason] of refusals) {
      const bad = await TestClient.open(url);
      bad.send(helloFor(bad.key, 'viewer', { admission }));
      bad.send(authFor(bad.key, 'viewer', await bad.next('challenge')));
      const error = await bad.next('error');
      expect(error.code).toBe('unauthorized');
      expect(error.message).toMatch(reason);
      expect((await bad.closed).code).toBe(1008);
    }
  });
});

/**
 * A hand-made viewer over real WebRTC: it does the handshake, joins, links to its parent (the
 * broadcaster's `PeerCore`) and presents in HELLO the credential `present` makes of its genuine
 * one. Resolves with what the parent did with the link.
 */
async function presentOnLink(
  trackerUrl: string,
  root: PeerCore,
  present: (genuine: string, peerId: string) => string,
): Promise<{ closed: boolean; rejected: string | undefined; framesFromParent: number }> {
  const key = generateNodeSigner();
  let credential = '';
  let peerId = '';
  let parentId: string | undefined;
  let opened: Link | undefined;
  let closed = false;
  let framesFromParent = 0;
  let rejected: string | undefined;
  const stopWatching = root.on('link:rejected', (event) => {
    if (event.remoteId === peerId) rejected = event.reason;
  });
  const transport = new RtcTransport(
    { logger: silentLogger },
    { bindAddress: '127.0.0.1' },
    {
      signal: (to, data) => {
        tracker.send({ type: 'signal', to, data });
      },
      // Other hand-made viewers may link to this one (as a backup): only the parent counts.
      open: (link) => {
        if (link.remoteId === parentId) opened = link;
      },
      message: (link) => {
        if (link === opened) framesFromParent++;
      },
      drain: () => undefined,
      close: (link) => {
        if (link === opened) closed = true;
      },
    },
  );
  const tracker = new WsTrackerConnection(
    { logger: silentLogger },
    { url: trackerUrl },
    {
      open: () => {
        tracker.send(helloFor(key, 'viewer'));
      },
      message: (message: TrackerMessage) => {
        if (message.type === 'challenge') tracker.send(authFor(key, 'viewer', message));
        if (message.type === 'welcome') {
          peerId = message.peerId;
          tracker.send({ type: 'join', stream: 'live' });
        }
        if (message.type === 'joined') credential = message.credential;
        if (message.type === 'signal') transport.signal(message.from, message.data);
        if (message.type === 'neighbours' && parentId === undefined) {
          parentId = message.parents[0];
          if (parentId !== undefined) transport.connect(parentId);
        }
      },
      close: () => undefined,
    },
  );
  cleanups.push(() => {
    stopWatching();
    tracker.close();
    transport.close();
  });
  await waitFor(() => opened !== undefined, 'a link to the parent', 10_000);
  opened?.send(
    encodeFrame({
      type: FrameType.Hello,
      hello: { peerId, stream: 'live', credential: present(credential, peerId) },
    }),
  );
  // A HAVE right behind it, as an honest peer sends: held until the check, then handled.
  opened?.send(encodeFrame({ type: FrameType.Have, fromSeq: 0, bitmap: new Uint8Array(0) }));
  // Either it closes, or it is still open after 1.5 s.
  await waitFor(() => closed, 'the link to close', 1500).catch(() => undefined);
  return { closed, rejected, framesFromParent };
}

describe(
  'credentials on data channels (real WebRTC, node-datachannel)',
  { timeout: 60_000 },
  () => {
    it('the parent keeps a link with a genuine credential and closes one with an expired, forged, tampered or borrowed credential', async () => {
      const trackerKey = generateNodeSigner();
      const broadcasterKey = generateNodeSigner();
      // Every viewer's one parent is the broadcaster.
      const { url } = await start(
        { topology: 'tree', treeStripes: 1, rootFanout: 16, broadcasters: 'any' },
        trackerKey,
      );
      const root = createNodePeer(
        {
          logger: silentLogger,
          identity: broadcasterKey,
        },
        {
          stream: 'live',
          role: 'broadcaster',
          info: info('live', broadcasterKey.publicKey),
          trackerUrl: url,
          rtc: { bindAddress: '127.0.0.1' },
        },
      );
      cleanups.push(() => {
        root.stop();
      });
      root.start();
      await waitFor(() => root.peerId !== null, 'the broadcaster to be welcomed', 5000);

      const honest = await presentOnLink(url, root, (genuine) => genuine);
      expect(honest).toMatchObject({ closed: false, rejected: undefined });
      expect(honest.framesFromParent).toBeGreaterThanOrEqual(2); // its HELLO and HAVE

      let honestCredential = '';
      const cases: [string, (genuine: string, peerId: string) => string, RegExp][] = [
        [
          'expired (signed by the tracker itself)',
          (_g, peerId) =>
            issueCredential(trackerKey, {
              peerId,
              stream: 'live',
              role: 'viewer',
              publicKey: broadcasterKey.publicKey,
              expiresAtMs: Date.now() - 1,
            }),
          /expired/,
        ],
        [
          'forged (signed by another key)',
          (_g, peerId) =>
            issueCredential(generateNodeSigner(), {
              peerId,
              stream: 'live',
              role: 'viewer',
              publicKey: broadcasterKey.publicKey,
              expiresAtMs: Date.now() + 60_000,
            }),
          /not signed by the tracker/,
        ],
        [
          'tampered (one character of the genuine one changed)',
          // Character 20 lies in the peer's public key: what was signed changed.
          (genuine) =>
            `${genuine.slice(0, 20)}${genuine[20] === 'A' ? 'B' : 'A'}${genuine.slice(21)}`,
          /not signed by the tracker/,
        ],
        ['borrowed (the honest peer’s genuine credential)', () => honestCredential, /another peer/],
      ];
      // The honest peer's credential, as a thief who saw it would present it.
      await presentOnLink(url, root, (genuine) => (honestCredential = genuine));
      for (const [name, present, reason] of cases) {
        const result = await presentOnLink(url, root, present);
        expect(result.closed, name).toBe(true);
        expect(result.rejected, name).toMatch(reason);
      }
    });
  },
);
