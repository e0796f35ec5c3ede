import { describe, expect, it } from 'vitest';
import { componentLog, createLogger } from '../../src/log.js';

describe('logs', () => {
  it('writes one line per record with the component, in text or pino JSON, at or above the level', () => {
    const text: string[] = [];
    const log = componentLog(createLogger('warn', 'text', (l) => text.push(l)), 'peer');
    log('info', 'quiet');
    log('warn', 'peer 10.0.0.2:16379 refused the handshake');
    expect(text).toHaveLength(1);
    expect(text[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z warn {2}\[peer\] peer 10\.0\.0\.2:16379 refused the handshake$/);
    const json: string[] = [];
    componentLog(createLogger('info', 'json', (l) => json.push(l)), 'membership')('info', 'ready for ring ab12');
    expect(JSON.parse(json[0] as string)).toMatchObject({ level: 30, component: 'membership', msg: 'ready for ring ab12' });
  });
});
