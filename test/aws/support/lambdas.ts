import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyAlone, type FunctionAsset } from './synth.js';

const RUNNER = fileURLToPath(new URL('./lambda-runner.mjs', import.meta.url));

/** What Lambda reports for a failed invocation (the shape Step Functions and API Gateway see). */
export class LambdaInvokeError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly functionLogicalId: string,
  ) {
    super(`${functionLogicalId}: ${errorType}: ${errorMessage}`);
    this.name = errorType;
  }
}

interface Instance {
  child: ChildProcess;
  ready: Promise<void>;
  pending: Map<string, { resolve(v: unknown): void; reject(e: unknown): void }>;
  /** one invocation at a time, as in one Lambda execution environment */
  queue: Promise<unknown>;
}

export interface FleetOptions {
  functions: FunctionAsset[];
  /** where the bundles are copied alone (outside the repo) */
  root: string;
  /** the function's environment from the template, resolved; plus the emulator endpoints (`dir`: its task root) */
  environment(fn: FunctionAsset, dir: string): Record<string, string>;
  /** called once the bundle is copied, before its cold start (deploy-time configuration of its folder) */
  prepare?(fn: FunctionAsset, dir: string): void;
  /** every line a function prints (its CloudWatch log stream) */
  onLog?(logicalId: string, line: string): void;
}

/**
 * The synthesized functions, each in its own `node` process started from its bundle copied
 * alone, with the environment Lambda would give it: an execution environment per function,
 * started on first invocation (the cold start) and reused after.
 */
export class LambdaFleet {
  readonly #instances = new Map<string, Instance>();
  readonly #byId: Map<string, FunctionAsset>;
  readonly invocations: { logicalId: string; ok: boolean }[] = [];

  constructor(private readonly opts: FleetOptions) {
    this.#byId = new Map(opts.functions.map((f) => [f.logicalId, f]));
  }

  has(logicalId: string): boolean {
    return this.#byId.has(logicalId);
  }

  async invoke<T = unknown>(logicalId: string, event: unknown): Promise<T> {
    const inst = this.#instance(logicalId);
    const run = inst.queue.then(async () => {
      await inst.ready;
      const id = randomUUID();
      return new Promise<T>((resolve, reject) => {
        inst.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        inst.child.send({ type: 'invoke', id, event, requestId: randomUUID() });
      });
    });
    inst.queue = run.catch(() => undefined);
    try {
      const result = await run;
      this.invocations.push({ logicalId, ok: true });
      return result;
    } catch (e) {
      this.invocations.push({ logicalId, ok: false });
      throw e;
    }
  }

  #instance(logicalId: string): Instance {
    const existing = this.#instances.get(logicalId);
    if (existing) return existing;
    const fn = this.#byId.get(logicalId);
    if (!fn) throw new Error(`no function ${logicalId} in the template`);
    const dir = copyAlone(fn, this.opts.root);
    this.opts.prepare?.(fn, dir);
    const runner = join(dir, '..', `${fn.logicalId}.runner.mjs`);
    copyFileSync(RUNNER, runner);
    const timeout = Number(fn.properties.Timeout ?? 3);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      LAMBDA_TASK_ROOT: dir,
      _HANDLER: String(fn.properties.Handler),
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.properties.Runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.properties.MemorySize ?? 128),
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(timeout),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      ...this.opts.environment(fn, dir),
    };
    const child = fork(runner, [dir, fn.moduleFile, fn.exportName], {
      cwd: dir,
      env,
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const pending = new Map<string, { resolve(v: unknown): void; reject(e: unknown): void }>();
    const log = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.opts.onLog?.(logicalId, line);
    };
    child.stdout!.on('data', log);
    child.stderr!.on('data', log);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (msg: any) => {
        if (msg.type === 'ready') return resolve();
        if (msg.type === 'init-error') return reject(new LambdaInvokeError(`Runtime.${msg.errorType}`, msg.errorMessage, logicalId));
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (msg.type === 'result') p.resolve(msg.result);
        else p.reject(new LambdaInvokeError(msg.errorType, msg.errorMessage, logicalId));
      });
      child.on('exit', (code) => {
        this.#instances.delete(logicalId);
        const err = new LambdaInvokeError('Runtime.ExitError', `process exited with ${code}`, logicalId);
        reject(err);
        for (const p of pending.values()) p.reject(err);
        pending.clear();
      });
    });
    ready.catch(() => undefined);
    const inst: Instance = { child, ready, pending, queue: Promise.resolve() };
    // the function's timeout from the template: a hung invocation is killed as Lambda kills it
    const origSend = child.send.bind(child);
    child.send = ((msg: any, ...rest: any[]) => {
      if (msg?.type === 'invoke') {
        const timer = setTimeout(() => {
          const p = pending.get(msg.id);
          if (!p) return;
          pending.delete(msg.id);
          p.reject(new LambdaInvokeError('Sandbox.Timedout', `Task timed out after ${timeout.toFixed(2)} seconds`, logicalId));
          child.kill('SIGKILL');
        }, timeout * 1000);
        timer.unref();
        const { resolve, reject } = pending.get(msg.id)!;
        pending.set(msg.id, {
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
      }
      return origSend(msg, ...rest);
    }) as typeof child.send;
    this.#instances.set(logicalId, inst);
    return inst;
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.#instances.values()].map(
        (i) =>
          new Promise<void>((resolve) => {
            if (i.child.exitCode !== null) return resolve();
            i.child.once('exit', () => resolve());
            i.child.kill('SIGTERM');
          }),
      ),
    );
  }
}
