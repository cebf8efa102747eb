/** The audit payloads the dataset registry writes (DatasetService). */
import * as z from 'zod';
import { Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

export const DatasetRegisteredPayload = z.object({
  id: Text,
  version: Text,
  checksum: Text,
  uri: Text,
  schema: z.record(z.string(), z.unknown()).nullable(),
  createdAt: Iso,
});
export type DatasetRegistered = z.infer<typeof DatasetRegisteredPayload>;

export const DATASET_EVENTS: EventCatalogue = {
  'dataset.registered': {
    schema: DatasetRegisteredPayload,
    restore: { restoredBy: 'the datasets restore (lib/modules/datasets/restore.ts)' },
  },
};
