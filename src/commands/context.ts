/**
 * What a command handler sees: its client's state and the node's services.
 */
import type { NodeConfig } from '../config.js';
import type { KvService } from '../replication/coordinator.js';
import type { HintStore } from '../replication/hints.js';
import type { Membership } from '../membership/membership.js';
import type { TransferManager } from '../replication/transfer.js';
import type { AntiEntropy } from '../anti-entropy/scheduler.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import type { NodeIdentity } from '../storage/identity.js';
import type { Protocol } from '../resp/encoder.js';
import type { Reply } from '../resp/reply.js';
import type { CommandSpec } from './table.js';
import type { CommandStats, SlowLog } from './command-stats.js';

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
  /** A command forwarded by another node (DYN.FWD): run it here, never forward it again. */
  readonly forwarded?: boolean;
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
  /** Failed AUTH / HELLO AUTH attempts. */
  authFailures?: number;
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
  /** Per-command calls, times and latency histograms; the slow log (absent on the peer port). */
  readonly commandStats?: CommandStats;
  readonly slowlog?: SlowLog;
  /** Run a command as if the client had sent it (multi-key commands fan out through this; not counted again). */
  dispatch(ctx: CommandContext, args: Buffer[], replyProtocol?: Protocol): Reply | Promise<Reply>;
  /** Sends a command to the node that must coordinate it; absent in a cluster of one. */
  readonly router?: CommandRouter;
  /** INFO ring and DYN.KEYINFO: the cluster as this node sees it. */
  readonly cluster: ClusterView;
  /** Hinted handoff: pending hints and counters (INFO ring). */
  readonly hints: HintStore;
  /** Anti-entropy (absent on a single node). */
  readonly antiEntropy?: AntiEntropy;
  /** Warnings and notices of the node's log. */
  readonly log?: (level: 'info' | 'warn', line: string) => void;
  /** Malformed peer messages and refused peer handshakes (INFO ring). */
  readonly peerStats?: { readonly malformed: number; readonly refusedHandshakes: number };
}

export interface CommandRouter {
  /** Commands forwarded to another node, and forwards that failed. */
  readonly stats: { readonly forwarded: number; readonly forwardErrors: number };
  /** undefined: run the command here; otherwise the reply of the node it was forwarded to. */
  route(ctx: CommandContext, spec: CommandSpec, args: Buffer[], replyProtocol: Protocol, runHere: () => Reply | Promise<Reply>): Promise<Reply> | undefined;
}

export interface PeerInfo {
  readonly id: string;
  readonly up: boolean;
  readonly requests: number;
  readonly errors: number;
  readonly inFlight: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The failure detector's φ for the peer. */
  readonly phi?: number;
}

export interface ClusterView {
  readonly self: string;
  readonly clusterName: string;
  readonly members: readonly string[];
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly scheme: string;
  preferenceList(partition: number): readonly string[];
  /** Partitions this node owns (first in the preference list) and replicates (anywhere in it). */
  owned(): number;
  replicated(): number;
  peers(): PeerInfo[];
  /** Member records, rings and staged changes (absent on a single node). */
  readonly membership?: Membership;
  readonly transfers?: TransferManager;
}

export interface CommandContext {
  readonly client: ClientState;
  readonly server: ServerContext;
}
