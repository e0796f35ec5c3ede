/** The full command table of a node. */
import { clusterCommands } from './cluster.js';
import { connectionCommands } from './connection.js';
import { keyCommands } from './keys.js';
import { redisClusterCommands } from './redis-cluster.js';
import { serverCommands } from './server.js';
import { stringCommands } from './strings.js';
import { CommandTable } from './table.js';
import { vCommands } from './vcommands.js';

export function buildCommandTable(): CommandTable {
  const table = new CommandTable();
  table.add(...connectionCommands, ...stringCommands, ...keyCommands, ...vCommands, ...clusterCommands, ...redisClusterCommands);
  table.add(...serverCommands(table));
  return table;
}
