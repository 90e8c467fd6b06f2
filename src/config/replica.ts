// This sidecar's name among the replicas sharing one store: the `replica` of its audit rows and
// the chains `audit verify` reports. Computed where the stores are built (serve and the CLI alike),
// so the same config gives the same name.
import { hostname } from 'node:os';
import type { Config } from './schema.js';

/** server.replicaName, else "<hostname>:<server.port>". */
export function replicaName(server: Pick<Config['server'], 'port'> & { replicaName?: string }): string {
  return server.replicaName ?? `${hostname()}:${server.port}`;
}
