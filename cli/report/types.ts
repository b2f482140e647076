/** The data `medlaunch-elt report` renders (docs/report.md): loaded by load.ts, turned into HTML by render.ts. */
import type { RunReport } from '../../src/contract/observability';

/** What one execution did in one state. */
export interface StateTrace {
  readonly name: string;
  /** Times the execution entered the state. */
  readonly entered: number;
  /** Times the state ended in an error that no retrier retried (caught by a Catch, or failing the execution). */
  readonly failed: number;
  /** Retries made (attempts after the first). */
  readonly retried: number;
}

/**
 * One execution's path through the state machine, built from its history in GetExecutionHistory's shape
 * ({@link buildExecutionTrace}): read from AWS, or from `<workdir>/executions/<name>.json` of a local run.
 */
export interface ExecutionTrace {
  readonly executionArn: string;
  readonly name: string;
  /** RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED (as DescribeExecution says). */
  readonly status: string;
  /** ISO times. */
  readonly startedAt?: string;
  readonly stoppedAt?: string;
  /** The states entered, in the order first entered. */
  readonly states: readonly StateTrace[];
}

/** One expiring facility (one record of the expiring output). */
export interface ExpiringRow {
  readonly facilityId: string;
  readonly facilityName: string;
  readonly state: string;
  /** The accreditation that expires in the window (the earliest one), YYYY-MM-DD. */
  readonly validUntil: string;
  readonly accreditationBody: string;
}

/** The expiring facilities of one snapshot, read from `<expiringPrefix>snapshot_date=<d>/`. */
export interface ExpiringData {
  /** The first rows by expiry date (at most the table cap). */
  readonly rows: readonly ExpiringRow[];
  /** Facilities in the expiring output (each facility once). */
  readonly total: number;
  /** Facilities per month of expiry (YYYY-MM), ascending. */
  readonly byMonth: ReadonlyArray<{ readonly month: string; readonly facilities: number }>;
  /** Lines that were not a facility record (never expected: the validator wrote them). */
  readonly unreadable: number;
  /** Objects read. */
  readonly objects: number;
}

/** One published snapshot: its run report and its expiring facilities. */
export interface SnapshotData {
  readonly report: RunReport;
  readonly expiring: ExpiringData;
}

/** A state machine definition in the Amazon States Language (the fields the diagram reads). */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly Comment?: string;
}

/** One ASL state (the fields the diagram reads). */
export interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Comment?: string;
  readonly Choices?: ReadonlyArray<{ readonly Next?: string; readonly [k: string]: unknown }>;
  readonly Catch?: ReadonlyArray<{ readonly ErrorEquals?: readonly string[]; readonly Next: string }>;
  readonly Retry?: ReadonlyArray<{ readonly ErrorEquals?: readonly string[]; readonly MaxAttempts?: number }>;
  readonly Branches?: readonly AslDefinition[];
  readonly Iterator?: AslDefinition;
  readonly ItemProcessor?: AslDefinition;
}

/** Everything the page shows. */
export interface ReportData {
  /** Where the data came from, e.g. `local work folder .local-aws` or `s3://bucket/reports/`. */
  readonly source: string;
  /** ISO time the page was made. */
  readonly generatedAt: string;
  /** Newest first. */
  readonly snapshots: readonly SnapshotData[];
  /** Published snapshots found, of which `snapshots` are the newest. */
  readonly snapshotsFound: number;
  readonly stateMachine?: { readonly name: string; readonly definition: AslDefinition };
  readonly traces: readonly ExecutionTrace[];
  /** What could not be read and why (shown on the page). */
  readonly notes: readonly string[];
}
