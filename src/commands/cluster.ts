/**
 * Cluster administration on the client port: `DYNIS <subcommand>` (the CLI's join, leave,
 * remove, plan, commit, status and members call these). Changes are staged on the node that
 * receives them, shown as a plan, and take effect with COMMIT (membership.ts).
 *
 *   DYNIS MEMBERS            one line per member: id status zone client-port owned reachable
 *   DYNIS STATUS             this node's view: ring, transition, transfers, hints
 *   DYNIS JOIN [id]          stage the join of a new node (default: this one); replies the plan
 *   DYNIS LEAVE [id]         stage the decommission of an up member (default: this one)
 *   DYNIS REMOVE id          stage the removal of a member that is gone for good
 *   DYNIS PLAN               the staged changes and what they would move
 *   DYNIS COMMIT             apply the staged changes
 *   DYNIS ABORT              drop the staged changes
 */
import { DynisError } from '../errors.js';
import { OK, type Reply } from '../resp/reply.js';
import type { Membership } from '../membership/membership.js';
import type { CommandContext } from './context.js';
import { cmd, NO_KEYS, type CommandSpec } from './table.js';

function membershipOf(ctx: CommandContext): Membership {
  const m = ctx.server.cluster.membership;
  if (m === undefined) throw new DynisError('ERR', 'this node runs alone (dynis start): there is no cluster to change');
  return m;
}

function idArg(ctx: CommandContext, args: Buffer[], at: number): string {
  return args[at] === undefined ? membershipOf(ctx).selfId : (args[at] as Buffer).toString('utf8');
}

function members(ctx: CommandContext): Reply {
  const m = membershipOf(ctx);
  const current = m.current;
  const peers = new Map(ctx.server.cluster.peers().map((p) => [p.id, p.up]));
  return m.list().map((r) => {
    const reachable = r.id === m.selfId ? 1 : peers.get(r.id) === true ? 1 : 0;
    return `${r.id} ${r.status} zone=${r.zone} port=${r.port} owned=${current?.ownedBy(r.id).length ?? 0} reachable=${reachable}`;
  });
}

function status(ctx: CommandContext): Reply {
  const m = membershipOf(ctx);
  const t = m.transition;
  const lines = [
    `self ${m.selfId} ${m.selfRecord.status}`,
    `members ${m.list().filter((r) => r.status !== 'left').length} (${m.current?.members.length ?? 0} in the current ring)`,
    `partitions owned ${ctx.server.cluster.owned()} replicated ${ctx.server.cluster.replicated()} of ${ctx.server.cluster.partitions}`,
    t === undefined ? 'transition none' : `transition to ${t.hash}: ${[...t.needed.keys()].map((id) => `${id}${m.list().find((r) => r.id === id)?.ready === t.hash ? ' ready' : ' pulling'}`).join(', ')}`,
    `transfer partitions left ${ctx.server.cluster.transfers?.remaining() ?? 0}`,
    `hints pending ${ctx.server.hints.pendingTotal()}`,
    `staged ${m.stagedChanges().map((c) => `${c.kind} ${c.id}`).join(', ') || 'none'}`,
  ];
  return lines;
}

function stage(kind: 'join' | 'leave' | 'remove') {
  return (ctx: CommandContext, args: Buffer[]): Reply => {
    const m = membershipOf(ctx);
    if (kind === 'remove' && args[2] === undefined) throw new DynisError('ERR', "wrong number of arguments for 'dynis|remove' command");
    m.stage({ kind, id: idArg(ctx, args, 2) });
    return m.plan();
  };
}

export const clusterCommands: CommandSpec[] = [
  cmd('dynis', -2, ['admin'], NO_KEYS, undefined, [
    cmd('members', 2, ['admin'], NO_KEYS, members),
    cmd('status', 2, ['admin'], NO_KEYS, status),
    cmd('join', -2, ['admin'], NO_KEYS, stage('join')),
    cmd('leave', -2, ['admin'], NO_KEYS, stage('leave')),
    cmd('remove', 3, ['admin'], NO_KEYS, stage('remove')),
    cmd('plan', 2, ['admin'], NO_KEYS, (ctx) => membershipOf(ctx).plan()),
    cmd('commit', 2, ['admin'], NO_KEYS, (ctx) => membershipOf(ctx).commit()),
    cmd('abort', 2, ['admin'], NO_KEYS, (ctx) => {
      membershipOf(ctx).abort();
      return OK;
    }),
  ]),
];
