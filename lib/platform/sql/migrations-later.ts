import type { Migration } from 'kysely';
import { tokenLifecycle } from './migration-token-lifecycle.js';
import { modelScopes } from './migration-0009-model-scopes.js';
import { serving0011 } from './migration-0011-serving.js';
import { servingTelemetry0012 } from './migration-0012-serving-telemetry.js';
import { servingIngestWatermark0013 } from './migration-0013-serving-ingest-watermark.js';
import { rolloutStrategies0014 } from './migration-0014-rollout-strategies.js';
import { drift0015 } from './migration-0015-drift.js';
import { events0016 } from './migration-0016-events.js';
import { keyRingSeq0017 } from './migration-0017-key-ring-seq.js';
import { uploadPartBytes0018 } from './migration-0018-upload-part-bytes.js';
import { registrations0019 } from './migration-0019-registrations.js';
import { quarantine0010 } from './migration-0010-quarantine.js';

/** The migrations kept in files of their own (0008 on); the migrator orders them by name. */
export const LATER_MIGRATIONS: Record<string, Migration> = {
  '0008_token_lifecycle': tokenLifecycle,
  '0010_quarantine': quarantine0010,
  '0009_model_scopes': modelScopes,
  '0011_serving': serving0011,
  '0012_serving_telemetry': servingTelemetry0012,
  '0013_serving_ingest_watermark': servingIngestWatermark0013,
  '0014_rollout_strategies': rolloutStrategies0014,
  '0015_drift': drift0015,
  '0016_events': events0016,
  '0017_key_ring_seq': keyRingSeq0017,
  '0018_upload_part_bytes': uploadPartBytes0018,
  '0019_registrations': registrations0019,
};
