export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

/**
 * Structured, namespaced logging, injected into every component.
 * Levels: `error` = a component failed; `warn` = something was refused or repaired; `info` = one
 * line per meaningful lifecycle change (started, joined, a peer left), never more than about
 * once a second; `debug` = everything else (per chunk, per message).
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-component: `swarmcast:peer` → `swarmcast:peer:link`. */
  child(namespace: string): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;

export interface LineLoggerOptions {
  namespace: string;
  level: LogLevel;
  sink: LogSink;
  /** Wall-clock milliseconds for the timestamp. */
  now: () => number;
}

/** Writes one line per entry: time, level, namespace, message, then `key=value` fields. */
export class LineLogger implements Logger {
  readonly #options: LineLoggerOptions;
  readonly #min: number;

  constructor(options: LineLoggerOptions) {
    this.#options = options;
    this.#min = ORDER[options.level];
  }

  debug(message: string, fields?: LogFields): void {
    this.#write('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#write('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#write('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#write('error', message, fields);
  }

  child(namespace: string): Logger {
    const parent = this.#options.namespace;
    return new LineLogger({ ...this.#options, namespace: `${parent}:${namespace}` });
  }

  #write(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (ORDER[level] < this.#min) return;
    const time = new Date(this.#options.now()).toISOString().slice(11, 23);
    let line = `${time} ${level.padEnd(5)} ${this.#options.namespace} ${message}`;
    if (fields !== undefined) {
      for (const [key, value] of Object.entries(fields)) line += ` ${key}=${formatField(value)}`;
    }
    this.#options.sink(line);
  }
}

function formatField(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (value === undefined) return 'undefined';
  return JSON.stringify(value);
}

/** A logger that drops everything (the default for library components). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

export function isLogLevel(value: string): value is LogLevel {
  return value in ORDER;
}
