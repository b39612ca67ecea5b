/** sluice as a library: every Make target is one of these functions. */
export { upgrade, downgrade, stamp, reset, type MoveOptions, type MoveResult } from './commands/migrate.js';
export { status, history, show, type StatusResult, type HistoryResult, type ShowResult } from './commands/inspect.js';
export { create, slugify, type CreateOptions, type CreateResult } from './commands/create.js';
export { check, type CheckResult } from './commands/check.js';
export { dbUp, dbDown, dbConnect } from './commands/devdb.js';
export { startCluster, stopCluster, freePort, type Cluster } from './pgcluster.js';
export { plan, planStamp, resolveTarget, findRevision, currentIndex, BASE, type Revision, type Step } from './revision.js';
export { parseDatabaseTarget, type DatabaseTarget } from './config.js';
export { openConnection, type Connection } from './dialect/index.js';
export * from './errors.js';
export type { StepResult } from './engine.js';
export { writeMissingDowns, type DownsResult } from './commands/downs.js';
export { takeover, type TakeoverOptions, type TakeoverResult, type TakeoverSummary } from './commands/takeover.js';
export { deploy, type DeployOptions, type DeployResult } from './commands/deploy.js';
export { init, type InitOptions, type InitResult, type InitFile } from './commands/init.js';
export { lint, type LintOptions, type LintResult } from './commands/lint.js';
export type { LintFinding } from './lint.js';
