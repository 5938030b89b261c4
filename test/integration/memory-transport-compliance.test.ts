import { SystemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { SeededRandom } from '../../src/common/random.js';
import { MemoryTransport } from '../../src/sim/memory-transport.js';
import { SimNetwork } from '../../src/sim/network.js';
import { transportCompliance, type TestNetwork } from '../helpers/transport-compliance.js';

/** Real time: 2 ms access latency per node, 100 Mbps each way, a little retransmission. */
function memoryNetwork(): TestNetwork {
  const network = new SimNetwork({ clock: new SystemClock(), random: new SeededRandom(1) });
  const connectTimeoutMs = 1000;
  const lowWaterBytes = 256 * 1024;
  return {
    connectTimeoutMs,
    lowWaterBytes,
    createTransport: (id, events) => {
      network.addNode(id, {
        uploadKbps: 100_000,
        downloadKbps: 100_000,
        latencyMs: 2,
        lossRate: 0.01,
      });
      return new MemoryTransport(
        { network, logger: silentLogger },
        { nodeId: id, connectTimeoutMs, lowWaterBytes },
        events,
      );
    },
    close: () => Promise.resolve(),
  };
}

transportCompliance('MemoryTransport', () => Promise.resolve(memoryNetwork()));
