/**
 * The artifact cache port: the unpacked files of artifacts serving verified, kept on local
 * disk between loads (the serving function's `/tmp`), keyed by the sha256 of the packed
 * artifact. Adapter: `adapters/artifact-cache/disk.ts`; tests: `test/unit/artifact-cache.test.ts`.
 */

/** One cached artifact: its files, and the artifact whose manifest sidecar was checked when they were written. */
export interface CachedArtifact {
  files: Map<string, Uint8Array>;
  artifactId: string;
}

/**
 * Unpacked artifacts by the sha256 of their packed bytes. Only bytes that hashed to that sha256
 * are put; an entry is written whole or not at all, and one that no longer reads back as
 * written is dropped (a miss), so a hit holds exactly the files unpacked from those bytes.
 * Neither method throws: a cache that cannot read or write is a miss.
 *
 * @example
 * const hit = await cache.get(record.sha256);
 * if (!hit) await cache.put(record.sha256, { artifactId, files: await unpackTarGz(verifiedBytes) });
 */
export interface ArtifactCache {
  get(sha256: string): Promise<CachedArtifact | undefined>;
  put(sha256: string, entry: { artifactId: string; files: ReadonlyMap<string, Uint8Array> }): Promise<void>;
}
