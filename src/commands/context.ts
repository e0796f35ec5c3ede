/**
 * What a command handler sees: its client's state and the node's services.
 */
import type { NodeConfig } from '../config.js';
import type { KvService } from '../replication/coordinator.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import type { NodeIdentity } from '../storage/identity.js';
import type { Protocol } from '../resp/encoder.js';

export interface ClientState {
  readonly id: number;
  readonly addr: string;
  readonly laddr: string;
  readonly createdAtMs: number;
  name: string | null;
  libName: string | null;
  libVer: string | null;
  authenticated: boolean;
  protocol: Protocol;
  db: number;
  lastCommand: string;
  lastInteractionMs: number;
  /** Set by QUIT: close the connection once this reply is written. */
  closeAfterReply: boolean;
  /** Query buffer bytes and output bytes, for CLIENT LIST. */
  queryBufferBytes(): number;
  outputBufferBytes(): number;
  /** Close this client (CLIENT KILL); the reply, if any, is sent first. */
  kill(): void;
}

export interface ServerStats {
  totalConnections: number;
  totalCommands: number;
  rejectedConnections: number;
  protocolErrors: number;
  expiredKeys: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  netInputBytes: number;
  netOutputBytes: number;
}

export interface ServerContext {
  readonly config: NodeConfig;
  readonly kv: KvService;
  readonly store: ReplicaStore;
  readonly identity: NodeIdentity;
  readonly startedAtMs: number;
  readonly stats: ServerStats;
  readonly clients: ReadonlyMap<number, ClientState>;
  /** The port actually bound (tests use port 0). */
  listeningPort(): number;
  /** Run id, as in INFO server. */
  readonly runId: string;
}

export interface CommandContext {
  readonly client: ClientState;
  readonly server: ServerContext;
}
