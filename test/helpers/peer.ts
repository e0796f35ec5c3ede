/** Talking to a node's peer port as a member would: the two-step handshake (HELLO, AUTH). */
import { clientProof, helloArgs, newNonce, type RingIdentity } from '../../src/peer/messages.js';
import type { RawClient } from './raw-client.js';

export const TEST_RING: RingIdentity = { clusterName: 'dynis', partitions: 256, scheme: 'redis-slot', n: 3 };

/** Send DYN.HELLO then DYN.AUTH; returns both raw replies. */
export async function peerHandshake(
  peer: RawClient,
  options: { from?: string; ring?: RingIdentity; secret?: string | null } = {},
): Promise<{ hello: string; auth: string }> {
  const ring = options.ring ?? TEST_RING;
  const from = options.from ?? 'tester:1';
  const clientNonce = newNonce();
  const hello = (await peer.command('DYN.HELLO', ...helloArgs(ring, from, clientNonce))).toString('latin1');
  // *5, :version, $n, id, $n, actor, $32, server nonce, …
  const parts = hello.split('\r\n');
  const serverNonce = parts[7] ?? '';
  const auth = (await peer.command('DYN.AUTH', clientProof(options.secret ?? null, ring.clusterName, from, serverNonce, clientNonce))).toString('latin1');
  return { hello, auth };
}
