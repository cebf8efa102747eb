/**
 * PLACEHOLDER so the stack synthesizes in the infra helper's clone: the real handler (every Task
 * of the drift state machine) comes from the runs helper's branch, which replaces this file.
 */
export const handler = async (event: { task?: string }): Promise<never> => {
  throw new Error(`drift-step placeholder: no handler for task ${String(event?.task)}`);
};
