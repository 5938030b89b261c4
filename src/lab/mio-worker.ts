/**
 * A worker thread of `runMioLab` (see `--jobs`): runs each grid run it is sent with `runMioOnce`
 * and posts back its record, or the error that ended it.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../common/errors.js';
import { runMioOnce, type MioWorkerReply, type MioWorkerTask } from './mio.js';

const port = parentPort;
if (port === null) throw new Error('mio-worker runs only as a worker thread');
port.on('message', (task: MioWorkerTask) => {
  runMioOnce(task.options, task.spec).then(
    (record) => {
      port.postMessage({ index: task.index, record } satisfies MioWorkerReply);
    },
    (error: unknown) => {
      const message = error instanceof Error ? (error.stack ?? error.message) : errorMessage(error);
      port.postMessage({ index: task.index, error: message } satisfies MioWorkerReply);
    },
  );
});
