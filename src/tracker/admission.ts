/**
 * Admission: which viewers the tracker lets in, from what their `hello` presents. Open (anyone
 * who completes the handshake), a shared join secret, or a JWT the site's own backend signs
 * (verified with `jose` against a configured public key: signature, `exp`, and an optional
 * `stream` claim that limits the viewer to one stream). Broadcasters are not subject to admission:
 * their key must be registered instead (`TrackerOptions.broadcasters`). Node only.
 */
import { createHash, createPublicKey, timingSafeEqual } from 'node:crypto';
import {
  createLocalJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Clock } from '../common/clock.js';
import { SwarmcastError } from '../common/errors.js';
import { STREAM_ID_PATTERN } from '../protocol/chunk.js';
import type { Admission, AdmissionVerdict } from './core/tracker-core.js';

/** Shortest join secret accepted (as for the origin's ingest secret). */
export const MIN_JOIN_SECRET_CHARS = 16;

export type AdmissionOptions =
  | { readonly mode: 'open' }
  | {
      readonly mode: 'secret';
      /** The join secret viewers present; at least `MIN_JOIN_SECRET_CHARS` characters. */
      readonly secret: string;
    }
  | {
      readonly mode: 'jwt';
      /**
       * The key the site's backend signs tokens with: a PEM public key (SPKI), a JWK, or a JWK
       * set (`{"keys": […]}`), as text.
       */
      readonly publicKey: string;
      /** Required `iss` claim. @default not checked */
      readonly issuer?: string;
      /** Required `aud` claim. @default not checked */
      readonly audience?: string;
    };

/** Builds the admission the options describe; throws `invalid-argument` for unusable ones. */
export function createAdmission(
  components: { clock: Clock },
  options: AdmissionOptions,
): Admission {
  switch (options.mode) {
    case 'open':
      return { admit: () => ({ admitted: true }) };
    case 'secret':
      return secretAdmission(options.secret);
    case 'jwt':
      return jwtAdmission(components.clock, options);
  }
}

function secretAdmission(secret: string): Admission {
  if (secret.length < MIN_JOIN_SECRET_CHARS) {
    throw new SwarmcastError(
      'invalid-argument',
      `the join secret must be at least ${MIN_JOIN_SECRET_CHARS} characters`,
    );
  }
  const expected = digest(secret);
  return {
    admit: (presented) => {
      if (presented === undefined) return refused('this tracker needs a join secret');
      // Digests have one length: the comparison time tells nothing about the secret.
      return timingSafeEqual(digest(presented), expected)
        ? { admitted: true }
        : refused('wrong join secret');
    },
  };
}

function jwtAdmission(
  clock: Clock,
  options: Extract<AdmissionOptions, { mode: 'jwt' }>,
): Admission {
  const key = verificationKey(options.publicKey);
  return {
    admit: async (presented) => {
      if (presented === undefined) return refused('this tracker needs a token');
      let payload: JWTPayload;
      try {
        const verifyOptions = {
          currentDate: new Date(clock.now()),
          requiredClaims: ['exp'],
          ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
          ...(options.audience === undefined ? {} : { audience: options.audience }),
        };
        ({ payload } = await jwtVerify(presented, key, verifyOptions));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return refused('token expired');
        if (error instanceof joseErrors.JOSEError) return refused(`bad token (${error.code})`);
        throw error;
      }
      const stream = payload.stream;
      if (stream === undefined) return { admitted: true };
      if (typeof stream !== 'string' || !STREAM_ID_PATTERN.test(stream)) {
        return refused('the token has an invalid stream claim');
      }
      return { admitted: true, stream };
    },
  };
}

/** The key lookup `jwtVerify` takes, for a PEM key, a JWK or a JWK set. */
function verificationKey(text: string): JWTVerifyGetKey {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      const key = createPublicKey(trimmed);
      return () => key;
    }
    const parsed = JSON.parse(trimmed) as { keys?: unknown };
    const jwks = Array.isArray(parsed.keys)
      ? (parsed as { keys: JWK[] })
      : { keys: [parsed as JWK] };
    return createLocalJWKSet(jwks);
  } catch (error) {
    throw new SwarmcastError(
      'invalid-argument',
      'the JWT public key must be a PEM public key, a JWK or a JWK set',
      { cause: error },
    );
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function refused(reason: string): AdmissionVerdict {
  return { admitted: false, reason };
}
