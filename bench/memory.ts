/** Memory of this process while something runs: RSS and ArrayBuffer bytes, sampled on a timer. */

export interface MemoryReport {
  rssBefore: number;
  rssPeak: number;
  arrayBuffersBefore: number;
  arrayBuffersPeak: number;
  /** process.resourceUsage().maxRSS in bytes, over the whole life of the process */
  maxRssBefore: number;
  maxRssAfter: number;
  samples: number;
}

/** ru_maxrss is reported in KiB on Linux. */
const maxRssBytes = (): number => process.resourceUsage().maxRSS * 1024;

/**
 * Samples process.memoryUsage() every `everyMs` until stopped. ArrayBuffer bytes include
 * buffers not yet collected, so a rise there is a hint; RSS is what the machine pays.
 *
 * @example
 * const mem = new MemorySampler(100);
 * await work();
 * const report = mem.stop();
 */
export class MemorySampler {
  readonly #before = process.memoryUsage();
  readonly #maxRssBefore = maxRssBytes();
  #rssPeak = this.#before.rss;
  #abPeak = this.#before.arrayBuffers;
  #samples = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(everyMs: number) {
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  #sample(): void {
    const m = process.memoryUsage();
    this.#rssPeak = Math.max(this.#rssPeak, m.rss);
    this.#abPeak = Math.max(this.#abPeak, m.arrayBuffers);
    this.#samples++;
  }

  stop(): MemoryReport {
    clearInterval(this.#timer);
    this.#sample();
    return {
      rssBefore: this.#before.rss,
      rssPeak: this.#rssPeak,
      arrayBuffersBefore: this.#before.arrayBuffers,
      arrayBuffersPeak: this.#abPeak,
      maxRssBefore: this.#maxRssBefore,
      maxRssAfter: maxRssBytes(),
      samples: this.#samples,
    };
  }
}
