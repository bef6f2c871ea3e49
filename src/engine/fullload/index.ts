// The native full-load engine: snapshot, segments, resumable COPY, pre-data, post-data, sequences, and
// runFullLoadLocal doing them all in one process. Knows nothing of Temporal.
export {
  type ExportedSnapshot,
  type HoldSnapshotOptions,
  beginSnapshotTransaction,
  dropSlot,
  holdSnapshot,
  withSnapshot,
} from './snapshot';
export { type Segment, planSegments, relationSql, segmentRelation } from './segments';
export {
  ANY_SNAPSHOT,
  CONTROL_DDL,
  CONTROL_SCHEMA,
  type SegmentRow,
  type SegmentState,
  type TableLoadState,
  ensureControlTables,
  forgetLoad,
  recordSegments,
  recordedSegments,
  resetTableLoad,
  segmentRows,
  setTableState,
  tableStates,
} from './control';
export {
  type CopySegmentOptions,
  type CopySegmentResult,
  classifyCopyError,
  columnExpr,
  copySegment,
  copySessions,
} from './copy';
export { type Endpoint, Sessions, runPool } from './pool';
export { type PreDataOptions, type PreDataReport, type PreparedTable, createPreData } from './schema';
export { type PostDataOptions, type PostDataReport, createPostData } from './post-data';
export { type SequenceReport, type SyncedSequence, syncSequences } from './sequences';
export { andPredicates, filterSql, inlineParams } from './sql';
export {
  type FullLoadEvent,
  type FullLoadLocalOptions,
  type FullLoadReport,
  type TableLoadResult,
  runFullLoadLocal,
} from './run';
