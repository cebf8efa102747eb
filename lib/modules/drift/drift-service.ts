/**
 * The drift module's API (`Container.drift`, the drift routes): runs through {@link DriftRuns},
 * reports and retrain suggestions through DriftRecords. Beside `service.ts` (DriftWindows),
 * which the runs read windows with: one file would make a dependency cycle.
 *
 * @example
 * const drift = new DriftService(runs, records);
 * const run = await drift.requestRun({ model: 'churn', env: 'prod' }, 'alice'); // the latest scheduled window
 */
import type { DriftApi, DriftRun } from './records.js';
import type { DriftRuns } from './runs.js';

/** What DriftRecords (records-service.ts) serves of the API: the report index and the suggestions. */
export type DriftRecordsApi = Pick<DriftApi, 'reports' | 'report' | 'suggestions' | 'suggestion' | 'decide' | 'modelOf'>;

export class DriftService implements DriftApi {
  constructor(
    private readonly runs: Pick<DriftRuns, 'requestRun' | 'run'>,
    private readonly records: DriftRecordsApi,
  ) {}

  requestRun(q: { model: string; env: string; from?: Date; to?: Date }, principal: string): Promise<DriftRun> {
    return this.runs.requestRun(q, principal);
  }

  run(runId: string): Promise<DriftRun | undefined> {
    return this.runs.run(runId);
  }

  reports(q: Parameters<DriftApi['reports']>[0]): ReturnType<DriftApi['reports']> {
    return this.records.reports(q);
  }

  report(reportId: string): ReturnType<DriftApi['report']> {
    return this.records.report(reportId);
  }

  suggestions(q: Parameters<DriftApi['suggestions']>[0]): ReturnType<DriftApi['suggestions']> {
    return this.records.suggestions(q);
  }

  suggestion(suggestionId: string): ReturnType<DriftApi['suggestion']> {
    return this.records.suggestion(suggestionId);
  }

  decide(...args: Parameters<DriftApi['decide']>): ReturnType<DriftApi['decide']> {
    return this.records.decide(...args);
  }

  /** The model a run (here), a report or a suggestion (DriftRecords) belongs to: the scope check. */
  async modelOf(kind: 'run' | 'report' | 'suggestion', id: string): Promise<string | undefined> {
    if (kind === 'run') return (await this.runs.run(id))?.model;
    return this.records.modelOf(kind, id);
  }
}
