/**
 * SSM command Comment that ties a command to the subtask attempt that sent it. SSM returns it in
 * GetCommandInvocation, so the completion callback needs no lookup table; at most 100 characters.
 */
export interface CommandOrigin {
  taskId: number;
  subtaskIndex: number;
  attempt: number;
}

const FORMAT = /^ocp-agent-restart task=(\d{1,16}) subtask=(\d) attempt=(\d{1,6})$/;

export function commandComment(origin: CommandOrigin): string {
  return `ocp-agent-restart task=${origin.taskId} subtask=${origin.subtaskIndex} attempt=${origin.attempt}`;
}

export function parseCommandComment(comment: string | undefined): CommandOrigin | undefined {
  const match = comment ? FORMAT.exec(comment) : null;
  if (!match) return undefined;
  return { taskId: Number(match[1]), subtaskIndex: Number(match[2]), attempt: Number(match[3]) };
}
