/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import type { Kysely } from 'kysely';

// A multipart upload's part size, stored with it (issue 25): the parts route, registration and
// expiry cut the upload by the size it was created with, so changing AEGIS_MULTIPART_PART_BYTES
// no longer breaks uploads in flight. Null for single-part uploads, and for multipart uploads
// created before this migration (those fall back to the current setting, as before).
export const uploadPartBytes0018 = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('uploads').addColumn('part_bytes', 'bigint').execute();
  },
};
