import { AegisError } from './errors.js';

/**
 * What every model runtime checks before predicting (the ModelRuntime contract): each row has
 * one finite number per feature. A wrong-width row fails with field `inputs[i]` naming the
 * width the model takes; a value that is not a finite number with field `inputs[i][j]`.
 *
 * @example
 * checkRows([[1, 2]], ['age', 'spend']); // ok
 * checkRows([[1]], ['age', 'spend']); // VALIDATION_FAILED, field inputs[0]
 */
export function checkRows(rows: readonly (readonly number[])[], features: readonly string[]): void {
  const width = features.length;
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== width)
      throw new AegisError(
        'VALIDATION_FAILED',
        `inputs[${i}]: has ${Array.isArray(row) ? row.length : 'no'} values; the model takes ${width}`,
        {
          field: `inputs[${i}]`,
        },
      );
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new AegisError('VALIDATION_FAILED', `inputs[${i}][${j}] (${features[j]}): must be a finite number`, {
          field: `inputs[${i}][${j}]`,
        });
    });
  });
}
