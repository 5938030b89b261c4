/** The origin: a live DASH server for signed chunks, and the client that publishes to it. */
export {
  OriginStore,
  OriginStream,
  OutOfOrderError,
  streamDescriptionSchema,
  type ChunkDigest,
  type LiveEdge,
  type OriginStoreComponents,
  type OriginStoreOptions,
  type StreamDescription,
} from './store.js';
export {
  MPD_DEFAULTS,
  availabilityStartTimeMs,
  buildMpd,
  isoDuration,
  type MpdInput,
  type MpdOptions,
} from './mpd.js';
export {
  CHUNK_CONTENT_TYPE,
  INIT_UPLOAD_CONTENT_TYPE,
  MAX_CHUNK_UPLOAD_BYTES,
  MAX_DESCRIPTION_BYTES,
  MAX_INIT_HEADER_BYTES,
  MAX_INIT_UPLOAD_BYTES,
  MIN_SECRET_CHARS,
  OriginServer,
  decodeInitUpload,
  decodeStreamDescription,
  encodeInitUpload,
  type ListenOptions,
  type OriginServerComponents,
  type OriginServerOptions,
  type ViewerPageOptions,
  type OriginStats,
} from './server.js';
export {
  INGEST_CLIENT_DEFAULTS,
  OriginIngestClient,
  type OriginIngestClientComponents,
  type OriginIngestClientOptions,
  type OriginIngestEvents,
  type OriginIngestStats,
} from './ingest-client.js';
