/**
 * Every bound of the system, in one place (TigerBeetle style: put a limit on everything).
 * Values that Redis also has carry Redis's default. Settings that an operator may change
 * are read from here as defaults by config.ts; the rest are fixed.
 */
export const limits = {
  // --- Client protocol (Redis's values) -------------------------------------------------
  /** proto-max-bulk-len: the largest bulk string a client may send (configurable). */
  protoMaxBulkLenBytes: 512 * 1024 * 1024,
  /** PROTO_INLINE_MAX_SIZE: an inline command or a `*`/`$` length line longer than this is refused. */
  inlineMaxBytes: 64 * 1024,
  /** Largest multibulk (argument count) Redis accepts: 1024*1024*1024 - 1... Redis checks > INT_MAX/1024*1024; we keep Redis's 1M-arg practical cap. */
  multibulkMaxArgs: 1024 * 1024,
  /** An unauthenticated client may send at most this many arguments (Redis 7). */
  unauthMultibulkMaxArgs: 10,
  /** An unauthenticated client may send bulks of at most this many bytes (Redis 7). */
  unauthBulkMaxBytes: 16 * 1024,
  /** client-query-buffer-limit: bytes buffered for one not-yet-complete request. */
  queryBufferMaxBytes: 1024 * 1024 * 1024,
  /** Unsent output (encoded or in the socket) above which a connection stops reading and running requests. */
  outputBufferSoftMaxBytes: 4 * 1024 * 1024,
  /** Hard limit of the output buffer of a normal client (client-output-buffer-limit normal is 0 in Redis; we bound it). */
  outputBufferHardMaxBytes: 256 * 1024 * 1024,
  /** Requests of one connection accepted but not yet replied; reading pauses beyond this (pipelining backpressure). */
  pipelineInFlightMax: 1024,
  /** maxclients default. */
  maxClients: 10_000,
  /** Length of a client name (CLIENT SETNAME); Redis has no explicit cap, we bound it. */
  clientNameMaxBytes: 1024,

  // --- CLI ---------------------------------------------------------------------------------
  /** The admin commands give a node this long to connect and to answer (ms). */
  adminConnectTimeoutMs: 3000,
  /** `dynis status` measures ops/s over this long (ms). */
  adminOpsSampleMs: 1000,

  // --- Commands ---------------------------------------------------------------------------
  /** Keys one MGET/MSET/DEL/EXISTS may name. */
  keysPerCommandMax: 100_000,
  /** INFO keyspace reports a background count of the local keys at most this old (ms). */
  keyspaceCountMaxAgeMs: 10_000,
  /** Command latencies above this are recorded as this (µs): one hour. */
  commandLatencyMaxUs: 3_600_000_000,
  /** SLOWLOG: arguments and bytes per argument kept per entry (Redis's 32 and 128), entries at most. */
  slowlogArgsMax: 32,
  slowlogArgBytesMax: 128,
  slowlogMaxLenMax: 100_000,
  /** SCAN COUNT is clamped to this. */
  scanCountMax: 10_000,
  /** KEYS refuses to return more than this many keys (use SCAN). */
  keysReplyMax: 1_000_000,
  /** Partitions one cluster SCAN call walks through before it returns (possibly an empty page). */
  scanPartitionsPerPage: 64,
  /** Partitions a cluster SCAN asks the replicas for at once. */
  scanPartitionsInParallel: 8,

  // --- Versions ---------------------------------------------------------------------------
  /** Siblings of one key above which a warning is logged (at most once per siblingsWarnIntervalMs). */
  siblingsWarn: 25,
  siblingsWarnIntervalMs: 10_000,
  /** Siblings of one key above which new siblings from clients are refused (repair/handoff still merge). */
  siblingsMax: 100,
  /** Largest encoded sibling set (bytes) accepted from a client write. */
  objectMaxBytes: 512 * 1024 * 1024 + 64 * 1024,
  /** Counter values reserved per persisted block of the actor's sequence (the next block is reserved at half use). */
  dotBlockSize: 1_000_000,

  // --- Storage ----------------------------------------------------------------------------
  /** Operations gathered into one group commit before it is flushed early. */
  groupCommitOpsMax: 4096,
  /** Write batches handed to the engine at once (its thread pool runs them in parallel). */
  writeBatchesInFlightMax: 4,
  /** Reads gathered into one getMany. */
  groupReadKeysMax: 4096,
  /** Keys examined per tick by the background expiry sweep. */
  expirySweepKeysPerTick: 200,
  /** Interval of the background expiry sweep. */
  expirySweepIntervalMs: 100,
  /** Bytes of decoded sibling sets kept in the read cache. */
  readCacheMaxBytes: 256 * 1024 * 1024,
  /** Absent filter (storage/absent-filter.ts): bits per key, keys it is first sized for, its largest size, scan page. */
  absentFilterBitsPerKey: 10,
  absentFilterInitialKeys: 1 << 20,
  absentFilterMaxBytes: 64 * 1024 * 1024,
  absentFilterScanPage: 4096,
  /** Entries kept in the read cache. */
  readCacheMaxEntries: 1_000_000,

  // --- Peer bus ---------------------------------------------------------------------------
  /** Requests to one peer awaiting an answer; more fail at once (the peer counts as not answering). */
  peerInFlightMax: 4096,
  /** A read asks every replica (not only R) with this probability, so reads repair replicas now and then. */
  readRepairChance: 0.1,
  /** Default time a peer has to answer one request (ms); setting peer-timeout. */
  peerTimeoutMs: 1000,
  /** A forwarded command may take this many peer timeouts (it runs a quorum read and a replication there). */
  peerForwardTimeoutFactor: 3,
  /** Reconnect backoff to an unreachable peer: first and largest delay (ms). */
  peerReconnectMinMs: 50,
  peerReconnectMaxMs: 2000,
  /** Peer connections one node accepts. */
  peerConnectionsMax: 1024,
  /** Members of a static cluster. */
  membersMax: 1024,
  /** Interval of a gossip round (ms). */
  gossipIntervalMs: 1000,
  /** Peers one gossip round talks to. */
  gossipFanout: 2,
  /** Keys pulled per page by a partition transfer. */
  transferPageSize: 512,
  /** Pause between two transfer pages (ms): a transfer must not starve foreground requests. */
  transferPauseMs: 5,
  /** Keys of one transfer page synced at once. */
  transferSyncInFlightMax: 64,
  /** A partition this node no longer replicates is deleted this long after the ring stopped naming it (ms). */
  partitionDropDelayMs: 10_000,
  /** Keys returned by one DYN.SCAN page. */
  peerScanPageMax: 10_000,
  /** Interval of the liveness ping to every peer (ms); its answers feed the failure detector. */
  peerPingIntervalMs: 500,
  /** Heartbeat intervals kept per peer by the failure detector. */
  failureDetectorWindow: 1000,
  /** Failure detector: φ above which a peer is suspect (Akka's and Cassandra's default is 8). */
  phiThreshold: 8,
  /** Failure detector: floor of the interval's standard deviation (ms). */
  phiMinStdDeviationMs: 200,
  /** Failure detector: longer heartbeat intervals are outages and are not recorded (ms). */
  phiMaxIntervalMs: 2000,
  /** Failure detector: a silence this long (beyond the usual interval) is not yet a failure (ms). */
  phiAcceptablePauseMs: 1500,
  /** Latency samples kept per peer for INFO (a ring buffer). */
  peerLatencySamples: 1024,

  // --- Hinted handoff ---------------------------------------------------------------------
  /** Pending hinted keys per target node; beyond it new hints for the target are refused. */
  hintsPerTargetMax: 5_000_000,
  /** Default hint window: a hint older than this is dropped, never delivered (ms); setting hint-window. */
  hintWindowMs: 3 * 60 * 60 * 1000,
  /** Hints read per replay page. */
  hintReplayPageSize: 512,
  /** Hint deliveries in flight at once. */
  hintReplayInFlightMax: 64,
  /** Pause between hint replay rounds when there is nothing (more) to deliver (ms). */
  hintReplayIntervalMs: 250,
  // --- Anti-entropy -----------------------------------------------------------------------
  /** Segment hashes kept for all partitions together (8 bytes each): 256 partitions × 1024 = 2 MiB. */
  aeSegmentsTotal: 256 * 1024,
  /** Segments per partition, at least and at most (a power of two between). */
  aeSegmentsMin: 16,
  aeSegmentsMax: 1024,
  /** Distinct keys written during one tree build that it tracks; beyond, the build is abandoned and retried later. */
  aeBuildTouchedMax: 100_000,
  /** Keys read per page while building a tree. */
  aeBuildPageSize: 1024,
  /** Differing segments synced per exchange (the rest wait for the next round). */
  aeSegmentsPerExchangeMax: 64,
  /** Keys per scan page in an exchange, and keys read per segment side at most. */
  aeKeysPerPage: 512,
  aeKeysPerSegmentMax: 20_000,
  /** Default pause between two partition exchanges (ms); setting anti-entropy-interval. */
  aeIntervalMs: 500,
  /** A tree older than this is rebuilt from storage before its next exchange (ms). */
  aeTreeMaxAgeMs: 24 * 60 * 60 * 1000,
  /** A single node reaps tombstones after this (no other replica or hint can need them). */
  singleNodeTombstoneGraceMs: 10_000,
  /** Default tombstone grace period (ms); must exceed the hint window; setting tombstone-grace. */
  tombstoneGraceMs: 4 * 60 * 60 * 1000,

  // --- Admin HTTP port (src/admin) ------------------------------------------------------
  /** Interval at which the commands processed are sampled for ops/s (ms). */
  adminOpsSampleIntervalMs: 1000,
  /** ops/s samples kept (a ring buffer): one minute at one a second. */
  adminOpsSamples: 60,
  /** The status page fetches /status.json this often (ms). */
  adminPageRefreshMs: 1000,
  /** Connections the admin port holds at once; more are closed on accept. */
  adminConnectionsMax: 64,
  /** Time a client has to send a request's headers, and the whole request (ms): slowloris. */
  adminHeadersTimeoutMs: 5000,
  adminRequestTimeoutMs: 10_000,
  /** An idle keep-alive connection is closed after this (ms). */
  adminKeepAliveTimeoutMs: 5000,
  /** /metrics command latency buckets: le = 2^i µs for i in min..max (16 µs … 16.8 s), then +Inf. */
  metricsLatencyMinPow2: 4,
  metricsLatencyMaxPow2: 24,
  /** Request headers accepted per request, and their bytes. */
  adminHeadersMax: 64,
  adminHeaderBytesMax: 16 * 1024,
} as const;

export type Limits = typeof limits;
