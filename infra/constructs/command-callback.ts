import { Construct } from 'constructs';
import { commandFinishedPattern } from '#core/event-patterns';
import { RESTART_SUBTASKS } from '#core/subtasks';
import type { AgentCommands } from './agent-commands.ts';
import { EventTrigger } from './event-trigger.ts';
import { ProjectFunction } from './lambda-defaults.ts';
import type { RestartWorkflow } from './restart-workflow.ts';
import type { TaskStore } from './task-store.ts';

export interface CommandCallbackProps {
  readonly store: TaskStore;
  readonly commands: AgentCommands;
  readonly workflow: RestartWorkflow;
}

/**
 * Completes a waiting subtask step when SSM reports its command finished: the command-callback
 * function, triggered by SSM's status-change events for the five subtask documents.
 */
export class CommandCallback extends Construct {
  readonly handler: ProjectFunction;
  readonly trigger: EventTrigger;

  constructor(scope: Construct, id: string, props: CommandCallbackProps) {
    super(scope, id);
    this.handler = new ProjectFunction(this, 'Handler', { functionId: 'commandCallback' });
    props.store.grantTaskTable(this.handler);
    props.commands.grantReadInvocations(this.handler);
    props.commands.useOutputLogGroup(this.handler);
    props.workflow.grantTaskResponse(this.handler);

    this.trigger = new EventTrigger(this, 'Trigger', {
      description: 'A subtask command of ocp-agent-restart finished on a host',
      on: {
        pattern: commandFinishedPattern(
          RESTART_SUBTASKS.map((subtask) => props.commands.documentName(subtask.key)),
        ),
      },
      target: this.handler,
    });
  }
}
