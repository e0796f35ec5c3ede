/**
 * The server side of the peer bus: the DYN.* command table served on the peer port (wire
 * format in messages.ts). It reuses the client-facing RESP server, decoder and dispatcher, so
 * a malformed message fails that request (or, for broken framing, that connection) and
 * nothing else. Until DYN.HELLO succeeds a connection may only PING, QUIT and say hello, and
 * the decoder applies the unauthenticated request limits.
 */
import { DynisError } from '../errors.js';
import type { ClientState, CommandContext, ServerContext } from '../commands/context.js';
import { cmd, CommandTable, NO_KEYS, singleKey, type Handler } from '../commands/table.js';
import { intArg } from '../commands/args.js';
import { limits } from '../limits.js';
import type { KvService } from '../replication/coordinator.js';
import { HintLimitError, type HintStore } from '../replication/hints.js';
import { ReplyEncoder, type Protocol } from '../resp/encoder.js';
import { OK, PONG, type Reply } from '../resp/reply.js';
import type { ReplicaStore } from '../storage/replica-store.js';
import { DecodeError } from '../util/bytes.js';
import { isLive, type SiblingSet } from '../versions/dvv.js';
import type { PartitionTrees } from '../anti-entropy/trees.js';
import type { Membership } from '../membership/membership.js';
import { setDigest } from '../anti-entropy/scheduler.js';
import { decodeSiblingSet, encodeSiblingSet } from '../versions/sibling-set.js';
import { checkHello, clientProof, encodeScanPage, newNonce, PEER_PROTOCOL_VERSION, proofMatches, serverProof, type RingIdentity } from './messages.js';

const POSITIONS_PER_PARTITION = 2 ** 32;

export interface PeerServices {
  readonly ring: RingIdentity;
  readonly secret: string | null;
  readonly self: string;
  readonly actor: string;
  readonly kv: KvService;
  readonly store: ReplicaStore;
  readonly hints: HintStore;
  /** Anti-entropy hash trees (absent on a single node). */
  readonly trees?: PartitionTrees;
  /** Member records (absent on a single node). */
  readonly membership?: Membership;
  /** The client command table and context, to run forwarded commands. */
  readonly clientTable: CommandTable;
  readonly clientServer: () => ServerContext;
  readonly log?: (level: 'info' | 'warn', line: string) => void;
  /** Counters for INFO ring. */
  readonly stats: PeerServerStats;
}

export interface PeerServerStats {
  malformed: number;
  refusedHandshakes: number;
}

/** A command forwarded by a peer, run as if its client had sent it here. */
class ForwardedClient implements ClientState {
  readonly forwarded = true;
  readonly id = 0;
  readonly addr: string;
  readonly laddr = '';
  readonly createdAtMs = Date.now();
  name: string | null = null;
  libName: string | null = null;
  libVer: string | null = null;
  authenticated = true;
  db = 0;
  lastCommand = 'NULL';
  lastInteractionMs = Date.now();
  closeAfterReply = false;
  constructor(
    readonly protocol: Protocol,
    from: string,
  ) {
    this.addr = from;
  }
  queryBufferBytes(): number {
    return 0;
  }
  outputBufferBytes(): number {
    return 0;
  }
  kill(): void {}
}

function handshaken(handler: Handler): Handler {
  return (ctx, args) => {
    if (!ctx.client.authenticated) return new DynisError('NOHANDSHAKE', 'send DYN.HELLO and DYN.AUTH first');
    return handler(ctx, args);
  };
}



export function buildPeerTable(s: PeerServices): CommandTable {
  const table = new CommandTable();
  // A malformed message fails its request with an error and is counted (INFO ring).
  const malformed = (message: string): DynisError => {
    s.stats.malformed++;
    return new DynisError('ERR', message);
  };
  const partitionArg = (arg: Buffer): number => {
    const p = intArg(arg);
    if (p < 0 || p >= s.ring.partitions) throw malformed(`partition ${p} out of range (0..${s.ring.partitions - 1})`);
    return p;
  };
  const keyIn = (partition: number, key: Buffer): Buffer => {
    const actual = s.kv.partitionOf(key);
    if (actual !== partition) throw malformed(`key belongs to partition ${actual}, not ${partition}`);
    return key;
  };
  const whoIs = new WeakMap<ClientState, string>();
  /** Handshakes between HELLO and AUTH: who said hello, and both nonces. */
  const pending = new WeakMap<ClientState, { from: string; clientNonce: string; serverNonce: string }>();
  const refuse = (ctx: CommandContext, why: string): DynisError => {
    s.stats.refusedHandshakes++;
    s.log?.('warn', `refused a peer handshake from ${ctx.client.addr}: ${why}`);
    return new DynisError('HANDSHAKE', why);
  };

  const hello: Handler = (ctx, args) => {
    let hi: { from: string; clientNonce: string };
    try {
      hi = checkHello(args.slice(1), s.ring);
    } catch (err) {
      return refuse(ctx, (err as Error).message);
    }
    const serverNonce = newNonce();
    pending.set(ctx.client, { ...hi, serverNonce });
    return [PEER_PROTOCOL_VERSION, s.self, s.actor, serverNonce, serverProof(s.secret, s.ring.clusterName, s.self, hi.clientNonce, serverNonce)];
  };

  const auth: Handler = (ctx, args) => {
    const hi = pending.get(ctx.client);
    if (hi === undefined) return refuse(ctx, 'DYN.AUTH before DYN.HELLO');
    pending.delete(ctx.client); // one attempt per HELLO: a new nonce for every try
    const expected = clientProof(s.secret, s.ring.clusterName, hi.from, hi.serverNonce, hi.clientNonce);
    if (!proofMatches(expected, (args[1] as Buffer).toString('latin1'))) return refuse(ctx, `cluster secret mismatch (peer ${hi.from})`);
    ctx.client.authenticated = true;
    whoIs.set(ctx.client, hi.from);
    return OK;
  };

  const memberArg = (arg: Buffer): string => {
    const id = arg.toString('utf8');
    if (id.length === 0 || id.length > 255) throw malformed('malformed member id');
    return id;
  };

  const read: Handler = async (_ctx, args) => {
    if (args.length > 4) throw new DynisError('ERR', "wrong number of arguments for 'dyn.read' command");
    const partition = partitionArg(args[1] as Buffer);
    const key = keyIn(partition, args[2] as Buffer);
    if (args.length === 4) return encodeSiblingSet(await s.hints.get(memberArg(args[3] as Buffer), partition, key));
    return encodeSiblingSet(await s.store.read(partition, key));
  };

  /** A received set with its values copied out of the request buffer, so storing it does not pin that buffer. */
  const setArg = (arg: Buffer): SiblingSet => {
    try {
      return decodeSiblingSet(arg).map((sib) => (sib.value === null ? sib : { ...sib, value: Buffer.from(sib.value) }));
    } catch (err) {
      if (err instanceof DecodeError) throw malformed(`malformed sibling set: ${err.message}`);
      throw err;
    }
  };

  const write: Handler = async (_ctx, args) => {
    const partition = partitionArg(args[1] as Buffer);
    const key = keyIn(partition, args[2] as Buffer);
    return (await s.kv.syncLocal(partition, key, setArg(args[3] as Buffer))) ? 1 : 0;
  };

  const hint: Handler = async (_ctx, args) => {
    const target = memberArg(args[1] as Buffer);
    const partition = partitionArg(args[2] as Buffer);
    const key = keyIn(partition, args[3] as Buffer);
    try {
      await s.hints.put(target, partition, key, setArg(args[4] as Buffer));
    } catch (err) {
      if (err instanceof HintLimitError) throw new DynisError('HINTLIMIT', err.message);
      throw err;
    }
    return OK;
  };

  const scan: Handler = async (_ctx, args) => {
    if (args.length > 5) throw new DynisError('ERR', "wrong number of arguments for 'dyn.scan' command");
    const partition = partitionArg(args[1] as Buffer);
    const position = intArg(args[2] as Buffer);
    const limit = intArg(args[3] as Buffer);
    const first = partition * POSITIONS_PER_PARTITION;
    const partitionEnd = first + POSITIONS_PER_PARTITION;
    const end = args.length === 5 ? intArg(args[4] as Buffer) : partitionEnd;
    if (position < first || position >= partitionEnd) throw new DynisError('ERR', `position ${position} is not in partition ${partition}`);
    if (end <= position || end > partitionEnd) throw new DynisError('ERR', `end ${end} is not after the position, in partition ${partition}`);
    if (limit < 1 || limit > limits.peerScanPageMax) throw new DynisError('ERR', `limit must be 1..${limits.peerScanPageMax}`);
    return encodeScanPage(await s.store.scan(position, limit, end));
  };

  const aeTree: Handler = (_ctx, args) => {
    const partition = partitionArg(args[1] as Buffer);
    const tree = s.trees?.ready(partition);
    if (tree === undefined) return new DynisError('NOTREADY', `no hash tree for partition ${partition} yet`);
    return tree.toBytes();
  };

  const gossip: Handler = (_ctx, args) => {
    if (s.membership === undefined) return new DynisError('ERR', 'this node has no membership');
    try {
      return s.membership.receive(args[1] as Buffer);
    } catch (err) {
      if (err instanceof DecodeError) return malformed(`malformed member records: ${err.message}`);
      throw err;
    }
  };

  const reap: Handler = async (_ctx, args) => {
    const partition = partitionArg(args[1] as Buffer);
    const key = keyIn(partition, args[2] as Buffer);
    const digest = (args[3] as Buffer).toString('latin1');
    const now = s.kv.now();
    const removed = await s.store.update(partition, key, (current) => {
      const dead = current.length > 0 && current.every((sib) => !isLive(sib, now));
      if (!dead || setDigest(key, current) !== digest) return { next: null, result: false };
      return { next: [], result: true };
    });
    return removed ? 1 : 0;
  };

  const flushAll: Handler = async () => {
    await s.store.clearAll();
    return OK;
  };

  const forward: Handler = async (ctx, args) => {
    const protocol = intArg(args[1] as Buffer);
    if (protocol !== 2 && protocol !== 3) throw new DynisError('ERR', `protocol ${protocol} is not 2 or 3`);
    const argv = args.slice(2);
    const name = (argv[0] as Buffer).toString('latin1').toLowerCase();
    const spec = s.clientTable.get(name);
    if (spec === undefined || !spec.flags.includes('write') || singleKey(spec, argv) === undefined) {
      throw new DynisError('ERR', `DYN.FWD only carries single-key writes, not '${name}'`);
    }
    const client = new ForwardedClient(protocol, whoIs.get(ctx.client) ?? ctx.client.addr);
    const context: CommandContext = { client, server: s.clientServer() };
    const reply: Reply = await s.clientTable.dispatch(context, argv);
    const encoder = new ReplyEncoder();
    encoder.protocol = protocol;
    encoder.write(reply);
    return encoder.take() ?? Buffer.alloc(0);
  };

  table.add(
    cmd('ping', -1, ['fast', 'no_auth'], NO_KEYS, () => PONG),
    cmd('quit', -1, ['fast', 'no_auth'], NO_KEYS, (ctx) => {
      ctx.client.closeAfterReply = true;
      return OK;
    }),
    cmd('dyn.hello', 8, ['fast', 'no_auth'], NO_KEYS, hello),
    cmd('dyn.auth', 2, ['fast', 'no_auth'], NO_KEYS, auth),
    cmd('dyn.ping', 1, ['fast', 'no_auth'], NO_KEYS, handshaken(() => PONG)),
    cmd('dyn.read', -3, ['readonly', 'fast', 'no_auth'], NO_KEYS, handshaken(read)),
    cmd('dyn.write', 4, ['write', 'no_auth'], NO_KEYS, handshaken(write)),
    cmd('dyn.hint', 5, ['write', 'no_auth'], NO_KEYS, handshaken(hint)),
    cmd('dyn.scan', -4, ['readonly', 'no_auth'], NO_KEYS, handshaken(scan)),
    cmd('dyn.aetree', 2, ['readonly', 'no_auth'], NO_KEYS, handshaken(aeTree)),
    cmd('dyn.reap', 4, ['write', 'no_auth'], NO_KEYS, handshaken(reap)),
    cmd('dyn.gossip', 2, ['fast', 'no_auth'], NO_KEYS, handshaken(gossip)),
    cmd('dyn.flushall', 1, ['write', 'no_auth'], NO_KEYS, handshaken(flushAll)),
    cmd('dyn.fwd', -4, ['write', 'no_auth'], NO_KEYS, handshaken(forward)),
  );
  return table;
}
