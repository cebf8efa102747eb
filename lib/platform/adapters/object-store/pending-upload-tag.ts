/**
 * The S3 object tag of a pending upload (bytes no registration has claimed yet): signed into
 * every presigned upload URL, removed at registration, and the filter of the artifact
 * bucket's `expire-pending-uploads` lifecycle rule. No imports: the CDK app uses it too.
 */
export const PENDING_UPLOAD_TAG = { key: 'aegis-upload', value: 'pending' } as const;
