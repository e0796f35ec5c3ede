/**
 * TLS material from the settings, read once at start. The client port uses it when
 * --tls-cert/--tls-key are set; the peer port and the peer clients too with --tls-peers, and
 * then both sides present certificates and check them against --tls-ca (mutual TLS).
 */
import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { ConfigError, type NodeConfig } from '../config.js';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

function read(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read '${file}' (${err instanceof Error ? err.message : String(err)})`);
  }
}

export function loadTls(config: NodeConfig): TlsMaterial | undefined {
  if (config.tlsCert === null || config.tlsKey === null) return undefined;
  return {
    cert: read(config.tlsCert, 'tls-cert'),
    key: read(config.tlsKey, 'tls-key'),
    ca: config.tlsCa === null ? undefined : read(config.tlsCa, 'tls-ca'),
  };
}

/** Server options for the client port (Redis's tls-auth-clients semantics). */
export function clientPortTls(tls: TlsMaterial, authClients: NodeConfig['tlsAuthClients']): TlsOptions {
  const ask = tls.ca !== undefined && authClients !== 'no';
  return { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: ask, rejectUnauthorized: ask && authClients === 'yes' };
}

/** Server options for the peer port: peers must present a certificate the CA signed. */
export function peerPortTls(tls: TlsMaterial): TlsOptions {
  return { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true };
}
