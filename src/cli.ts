/**
 * Command-line entry: argv → config → start; signals.
 *
 *   dynis start [--port 6379] [--dir ./data/node-6379] [--config FILE] [--fsync everysec] …
 *   dynis help
 */
import { buildConfig, ConfigError, settings } from './config.js';
import { DynisNode } from './node.js';

const USAGE = `usage: dynis <command> [options]

commands:
  start     run one node (N=R=W=1) on 127.0.0.1:6379 with its data in ./data/node-<port>
  help      show this text

options (also accepted in a --config file as "name value" lines):
${Object.entries(settings)
  .map(([name, s]) => `  --${name.padEnd(20)} ${s.help}`)
  .join('\n')}
  --config FILE          read settings from FILE first (flags override it)
`;

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return startNode(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      throw new ConfigError(`unknown command '${command}'\n${USAGE}`);
  }
}

async function startNode(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  const config = buildConfig(argv);
  const node = new DynisNode(config, { log: (line) => process.stdout.write(`${line}\n`) });
  await node.start();
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`dynis: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    process.stdout.write(`dynis: ${signal} received, shutting down\n`);
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`dynis: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}
