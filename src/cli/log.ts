import { isLogLevel, LineLogger, type Logger, type LogLevel } from '../common/logger.js';

/** A logger writing one line per entry to stderr, for the command-line programs. */
export function stderrLogger(namespace: string, level: LogLevel): Logger {
  return new LineLogger({
    namespace,
    level,
    now: () => Date.now(),
    sink: (line) => process.stderr.write(line + '\n'),
  });
}

/** Parses a `--log-level` value; commander reports the TypeError as a usage error. */
export function parseLogLevel(value: string): LogLevel {
  if (!isLogLevel(value)) throw new TypeError(`log level must be debug, info, warn or error`);
  return value;
}
