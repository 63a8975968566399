import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { HOST_TABLE, KEY_ATTRIBUTE_TYPES, TASK_TABLE, TASK_TABLE_INDEXES } from '#store/table-schema';
import { ENV } from '../../functions/catalog.ts';
import type { ProjectFunction } from './lambda-defaults.ts';

/** Item-level actions the task store performs (TransactWriteItems is authorized per Put/Update/Delete). */
const TASK_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

function key(name: keyof typeof KEY_ATTRIBUTE_TYPES): { name: string; type: AttributeType } {
  return { name, type: KEY_ATTRIBUTE_TYPES[name] === 'N' ? AttributeType.NUMBER : AttributeType.STRING };
}

/**
 * The product's records: the task table (tasks, subtask logs, host locks, the id counter, expiring
 * idempotency keys; two GSIs for listing and one of the host locks; a stream of task changes) and the host registry (hostId to instance and agent home).
 * Both keep point-in-time recovery and are retained when the stack is deleted.
 */
export class TaskStore extends Construct {
  readonly taskTable: Table;
  readonly hostTable: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const durable = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    };

    this.taskTable = new Table(this, 'TaskTable', {
      ...durable,
      partitionKey: key(TASK_TABLE.partitionKey),
      sortKey: key(TASK_TABLE.sortKey),
      stream: StreamViewType[TASK_TABLE.streamView],
      timeToLiveAttribute: TASK_TABLE.timeToLiveAttribute,
    });
    for (const index of TASK_TABLE_INDEXES) {
      this.taskTable.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: key(index.partitionKey),
        sortKey: key(index.sortKey),
        projectionType: ProjectionType[index.projection],
      });
    }

    this.hostTable = new Table(this, 'HostTable', {
      ...durable,
      partitionKey: key(HOST_TABLE.partitionKey),
    });
  }

  /**
   * Lets the function read and write task items and tells it the table's name; with `queryIndexes`
   * it may also query the two listing indexes.
   */
  grantTaskTable(fn: ProjectFunction, options: { queryIndexes?: boolean } = {}): void {
    fn.addEnvironment(ENV.taskTable, this.taskTable.tableName);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: TASK_ITEM_ACTIONS, resources: [this.taskTable.tableArn] }),
    );
    if (options.queryIndexes) {
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [TASK_TABLE.byCreationIndex.name, TASK_TABLE.byHostIndex.name].map(
            (name) => `${this.taskTable.tableArn}/index/${name}`,
          ),
        }),
      );
    }
  }

  /**
   * Lets the function list the host locks (a Scan of the sparse hostLocks index) and release a lock whose
   * task has ended, on the condition that it has (a ConditionCheck on the task item).
   */
  grantLockSweep(fn: ProjectFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Scan'],
        resources: [`${this.taskTable.tableArn}/index/${TASK_TABLE.hostLocksIndex.name}`],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:ConditionCheckItem'], resources: [this.taskTable.tableArn] }),
    );
  }

  /** Lets the function look hosts up by id and tells it the host table's name. */
  grantHostLookup(fn: ProjectFunction): void {
    fn.addEnvironment(ENV.hostTable, this.hostTable.tableName);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [this.hostTable.tableArn] }),
    );
  }

  /** Lets the function look many hosts up at once (a batch's), beside one by one. */
  grantHostBulkLookup(fn: ProjectFunction): void {
    this.grantHostLookup(fn);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:BatchGetItem'], resources: [this.hostTable.tableArn] }),
    );
  }

  /** Lets the function list every registered host (a Scan of the host table, which grows with the fleet). */
  grantHostListing(fn: ProjectFunction): void {
    this.grantHostLookup(fn);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:Scan'], resources: [this.hostTable.tableArn] }),
    );
  }

  /** Lets the function read and write many task items at once: a batch's hosts, their tasks and locks. */
  grantBulkTaskItems(fn: ProjectFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
        resources: [this.taskTable.tableArn],
      }),
    );
  }
}
