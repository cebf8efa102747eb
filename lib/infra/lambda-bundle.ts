import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { buildSync, type BuildOptions } from 'esbuild';
import { AssetHashType } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * How a Lambda function's code is bundled ({@link bundledCode}): esbuild's API in the synth's own
 * process, minified ESM with an external source map, and the files the function reads at run
 * time copied beside it.
 */

/**
 * Prepended to every bundle: an ESM bundle has no `require`, `__dirname` or `__filename`, but
 * CommonJS dependencies bundled into it still use them (`require` for node builtins; cedar-wasm
 * reads `${__dirname}/cedar_wasm_bg.wasm`). The aliases keep the imports from clashing with a
 * bundled module's own names; {@link ESM_CJS_DEFINES} points `__dirname` and `__filename` at them.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __aegisCreateRequire } from 'node:module'; import { fileURLToPath as __aegisFileURLToPath } from 'node:url'; const require = __aegisCreateRequire(import.meta.url); const __aegisFilename = __aegisFileURLToPath(import.meta.url); const __aegisDirname = __aegisFilename.slice(0, __aegisFilename.lastIndexOf('/'));";

/** esbuild defines: bundled CommonJS code's `__dirname` / `__filename` become the bundle's own (see {@link ESM_REQUIRE_BANNER}). */
export const ESM_CJS_DEFINES: Readonly<Record<string, string>> = { __dirname: '__aegisDirname', __filename: '__aegisFilename' };

/**
 * Packages no Lambda bundle may contain: local drivers and runners, the Prometheus client, build
 * tools. They stay external, as do the packages a function ships beside its bundle.
 */
export const LOCAL_ONLY_PACKAGES = [
  '@electric-sql/pglite',
  'pg',
  'pg-native',
  'aws-local-stepfunctions',
  'prom-client',
  'aws-cdk-lib',
  'constructs',
  'cdk-nag',
  'esbuild',
  'tsx',
] as const;

/** The newest Node.js runtime this aws-cdk-lib offers. */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** A package shipped beside a bundle, trimmed to some of its files (`AegisFunctionProps.packages`). */
export interface BundledPackage {
  readonly name: string;
  readonly paths: readonly string[];
}

/** What one function's bundle is made of. */
export interface BundleSpec {
  projectRoot: string;
  /** absolute */
  entry: string;
  bundleFolders: readonly string[];
  bundleFiles: readonly string[];
  packages: readonly BundledPackage[];
}

/** esbuild's options for a bundle: minified ESM for the Node runtime, the source map beside it (no URL comment). */
function esbuildOptions(b: BundleSpec, outputDir: string): BuildOptions {
  return {
    entryPoints: [b.entry],
    outfile: join(outputDir, 'index.mjs'),
    absWorkingDir: b.projectRoot,
    bundle: true,
    platform: 'node',
    target: `node${/^nodejs(\d+)/.exec(NODE_RUNTIME.name)![1]}`,
    format: 'esm',
    // Prefer packages' ESM builds in an ESM bundle.
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: 'external',
    // Bundle the AWS SDK with the code (the runtime's copy may lack lib-storage or lag our
    // versions). The Lambda path never reaches local-only code (composition-lambda.ts); should it
    // ever, these stay out of the bundle so the bundle-alone test fails loudly instead of the
    // bundle growing silently.
    external: [...LOCAL_ONLY_PACKAGES, ...b.packages.map((p) => p.name)],
    define: { ...ESM_CJS_DEFINES },
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'warning',
  };
}

/**
 * Bundles in this process with esbuild's API (no `npx` per function: ~0.3 s each), then copies
 * the folders, files and package parts the function ships beside `index.mjs`. A missing source
 * fails the synth.
 */
function bundleInto(outputDir: string, b: BundleSpec): true {
  buildSync(esbuildOptions(b, outputDir));
  const copy = (from: string, to: string) => {
    if (!existsSync(from)) throw new Error(`cannot bundle ${b.entry}: ${from} does not exist`);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true });
  };
  for (const folder of b.bundleFolders) copy(join(b.projectRoot, folder), join(outputDir, folder));
  for (const file of b.bundleFiles) copy(join(b.projectRoot, file), join(outputDir, basename(file)));
  for (const pkg of b.packages)
    for (const path of pkg.paths)
      copy(join(b.projectRoot, 'node_modules', pkg.name, path), join(outputDir, 'node_modules', pkg.name, path));
  return true;
}

/** The function's code: `spec` bundled on synth (CDK skips it for stacks outside `aws:cdk:bundling-stacks`). */
export function bundledCode(spec: BundleSpec): lambda.Code {
  return lambda.Code.fromAsset(spec.projectRoot, {
    // the bundle's own hash: an unchanged bundle is not uploaded again
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // never pulled: bundling is local only (esbuild is a dependency of the build)
      image: NODE_RUNTIME.bundlingImage,
      // CDK keys its cache of staged assets within one synth on these options: functions share a
      // bundle only when their specs are the same
      command: ['esbuild', JSON.stringify(spec)],
      local: { tryBundle: (outputDir) => bundleInto(outputDir, spec) },
    },
  });
}
