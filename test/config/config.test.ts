import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig, ConfigError, envName, parseConfigFile } from '../../src/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dynis-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(text: string): string {
  const f = path.join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, text);
  return f;
}

describe('settings', () => {
  it('merge defaults < config file < DYNIS_* environment < flags', () => {
    const conf = file('# a comment\nport 7000\nmaxclients 50\nfsync always\nloglevel warn\n');
    const env = { DYNIS_MAXCLIENTS: '60', DYNIS_FSYNC: 'no', HOME: '/x' };
    const c = buildConfig(['--config', conf, '--fsync', 'everysec'], {}, env);
    expect(c.port).toBe(7000); // file
    expect(c.maxclients).toBe(60); // environment over file
    expect(c.fsync).toBe('everysec'); // flag over environment
    expect(c.loglevel).toBe('warn');
    expect(c.dir).toBe('./data/node-6379'); // the port came from the file only
    expect(buildConfig([], {}, { DYNIS_PORT: '7100' }).dir).toBe('./data/node-7100');
    expect(envName('tombstone-grace')).toBe('DYNIS_TOMBSTONE_GRACE');
  });

  it('parses sizes, durations and lists', () => {
    const c = buildConfig(
      ['--proto-max-bulk-len', '2mb', '--hint-window', '90s', '--tombstone-grace', '2h', '--anti-entropy-interval', '250ms', '--seeds', 'a:1, b:2@z2', '--cache-bytes', '1gb'],
      {},
      {},
    );
    expect(c.protoMaxBulkLen).toBe(2 * 1024 * 1024);
    expect(c.hintWindow).toBe(90_000);
    expect(c.tombstoneGrace).toBe(7_200_000);
    expect(c.antiEntropyInterval).toBe(250);
    expect(c.seeds).toEqual(['a:1', 'b:2@z2']);
    expect(c.cacheBytes).toBe(1024 ** 3);
  });

  it('refuses bad values with the setting and what is allowed', () => {
    const bad = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
      try {
        buildConfig(argv, {}, env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(bad(['--port', '70000'])).toBe('port: 70000 is out of range (allowed: 1..65535)');
    expect(bad(['--port', 'x'])).toBe("port: 'x' is not an integer (allowed: 1..65535)");
    expect(bad(['--fsync', 'sometimes'])).toBe("fsync: 'sometimes' is not allowed (allowed: always, everysec, no)");
    expect(bad(['--partitions', '100'])).toBe('partitions: 100 is not a power of two');
    expect(bad(['--n', '2', '--r', '3'])).toMatch(/^n\/r\/w: need 1 <= r,w <= n/);
    expect(bad(['--hint-window', '5h'])).toMatch(/^tombstone-grace: .* must exceed hint-window/);
    expect(bad(['--hint-window', 'soon'])).toBe("hint-window: 'soon' is not a duration (e.g. 500ms, 10s, 3h)");
    expect(bad(['--tls-cert', 'a.pem'])).toBe('tls-cert and tls-key: give both or neither');
    expect(bad(['--tls-peers', 'yes'])).toMatch(/^tls-peers: needs tls-cert, tls-key and tls-ca/);
    expect(bad(['--nope', '1'])).toBe('unknown option --nope');
    expect(bad(['--port'])).toBe('--port needs a value');
    expect(bad([], { DYNIS_PROT: '1' })).toMatch(/^DYNIS_PROT: not a dynis setting/);
    expect(bad([], { DYNIS_PORT: '0x10' })).toBe("DYNIS_PORT: '0x10' is not an integer (allowed: 1..65535)");
    expect(() => parseConfigFile('port\n', 'f.conf')).toThrow("f.conf:1: expected 'name value'");
    expect(() => parseConfigFile('colour blue\n', 'f.conf')).toThrow("f.conf:1: unknown setting 'colour'");
  });
});
