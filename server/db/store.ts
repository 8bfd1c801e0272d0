// The only place the server's code talks to the database: one Store, made of one store per aggregate (each in its own
// file next to its records' types), sharing one Prisma client and one clock (shared.ts). The rest of the server
// calls `store.getRun(…)`, `store.appendMetrics(…)` and so on; each of those forwards to its aggregate, also
// reachable as `store.runs`, `store.metricPoints`… Every method is typed; JSON columns (Run.configJson,
// ActivityEntry.detail) are stored as strings and parsed back; ids are random UUIDs. Errors the caller can act on are
// StoreErrors (CONFLICT: a unique value taken; NOT_FOUND: a row or a row it points to does not exist).
import { ActivityStore } from "./activity";
import { CheckpointStore } from "./checkpoints";
import { SessionDatasetStore } from "./datasets";
import { DiagnosticsStore } from "./diagnostics";
import type { PrismaClient } from "./generated/client";
import { GridStore } from "./grids";
import { InviteStore } from "./invites";
import { MemberStore } from "./members";
import { MetricStore } from "./metrics";
import { RunStore } from "./runs";
import { SessionStore } from "./sessions";
import { StoreDb } from "./shared";
import { UserStore } from "./users";

export type { ActivityInput, ActivityRecord } from "./activity";
export type { CheckpointInput, CheckpointRecord } from "./checkpoints";
export type { SessionDatasetRecord } from "./datasets";
export type { DiagnosticsInput } from "./diagnostics";
export type { GridInfo, GridInput, GridRecord } from "./grids";
export type { InviteAcceptance, InviteDetails, InviteRecord, InviteRefusal, InviteStanding } from "./invites";
export type { MemberRecord } from "./members";
export { overviewPoint, overviewWidth } from "./metrics";
export type { LossTriple, MetricBucket, MetricInput, MetricOverviewPoint, MetricRecord } from "./metrics";
export { INTERRUPTED_REASON, QUEUED_INTERRUPTED_REASON } from "./runs";
export type { RunPatch, RunRecord } from "./runs";
export type { RunSummary, SessionRecord, SessionSummary } from "./sessions";
export { ROLES, RUN_STATUSES, StoreError } from "./shared";
export type { Role, RunStatus, StoreErrorCode } from "./shared";
export type { UserRecord } from "./users";

export class Store {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly members: MemberStore;
  readonly invites: InviteStore;
  readonly runs: RunStore;
  /** Loss points (not `metrics`: that name is the method that reads them, as before the split). */
  readonly metricPoints: MetricStore;
  readonly grids: GridStore;
  readonly diagnostics: DiagnosticsStore;
  readonly checkpoints: CheckpointStore;
  readonly activity: ActivityStore;
  readonly datasets: SessionDatasetStore;

  constructor(readonly prisma: PrismaClient) {
    const db = new StoreDb(prisma);
    this.users = new UserStore(db);
    this.sessions = new SessionStore(db);
    this.members = new MemberStore(db);
    this.invites = new InviteStore(db, this.members);
    this.runs = new RunStore(db);
    this.metricPoints = new MetricStore(db);
    this.grids = new GridStore(db);
    this.diagnostics = new DiagnosticsStore(db);
    this.checkpoints = new CheckpointStore(db);
    this.activity = new ActivityStore(db);
    this.datasets = new SessionDatasetStore(db);
  }

  // ---- users (users.ts) ----
  createUser: UserStore["createUser"] = (...a) => this.users.createUser(...a);
  findUserByEmail: UserStore["findUserByEmail"] = (...a) => this.users.findUserByEmail(...a);
  getUser: UserStore["getUser"] = (...a) => this.users.getUser(...a);
  sessionVersion: UserStore["sessionVersion"] = (...a) => this.users.sessionVersion(...a);
  bumpSessionVersion: UserStore["bumpSessionVersion"] = (...a) => this.users.bumpSessionVersion(...a);
  setPassword: UserStore["setPassword"] = (...a) => this.users.setPassword(...a);

  // ---- sessions (sessions.ts) ----
  createSession: SessionStore["createSession"] = (...a) => this.sessions.createSession(...a);
  getSession: SessionStore["getSession"] = (...a) => this.sessions.getSession(...a);
  deleteSession: SessionStore["deleteSession"] = (...a) => this.sessions.deleteSession(...a);
  listSessionsForUser: SessionStore["listSessionsForUser"] = (...a) => this.sessions.listSessionsForUser(...a);
  countOwnedSessions: SessionStore["countOwnedSessions"] = (...a) => this.sessions.countOwnedSessions(...a);
  setPauseOnCollapse: SessionStore["setPauseOnCollapse"] = (...a) => this.sessions.setPauseOnCollapse(...a);

  // ---- members and their ceilings (members.ts) ----
  getMembership: MemberStore["getMembership"] = (...a) => this.members.getMembership(...a);
  addMember: MemberStore["addMember"] = (...a) => this.members.addMember(...a);
  setMemberRole: MemberStore["setMemberRole"] = (...a) => this.members.setMemberRole(...a);
  removeMember: MemberStore["removeMember"] = (...a) => this.members.removeMember(...a);
  getCeiling: MemberStore["getCeiling"] = (...a) => this.members.getCeiling(...a);
  listMembers: MemberStore["listMembers"] = (...a) => this.members.listMembers(...a);

  // ---- invites (invites.ts) ----
  createInvite: InviteStore["createInvite"] = (...a) => this.invites.createInvite(...a);
  findActiveInvite: InviteStore["findActiveInvite"] = (...a) => this.invites.findActiveInvite(...a);
  revokeInvite: InviteStore["revokeInvite"] = (...a) => this.invites.revokeInvite(...a);
  inviteStanding: InviteStore["inviteStanding"] = (...a) => this.invites.inviteStanding(...a);
  acceptInvite: InviteStore["acceptInvite"] = (...a) => this.invites.acceptInvite(...a);
  listInvites: InviteStore["listInvites"] = (...a) => this.invites.listInvites(...a);

  // ---- data sets in sessions (datasets.ts) ----
  addSessionDataset: SessionDatasetStore["addSessionDataset"] = (...a) => this.datasets.addSessionDataset(...a);
  getSessionDataset: SessionDatasetStore["getSessionDataset"] = (...a) => this.datasets.getSessionDataset(...a);
  listSessionDatasets: SessionDatasetStore["listSessionDatasets"] = (...a) => this.datasets.listSessionDatasets(...a);
  runCountsByDataset: SessionDatasetStore["runCountsByDataset"] = (...a) => this.datasets.runCountsByDataset(...a);
  removeSessionDataset: SessionDatasetStore["removeSessionDataset"] = (...a) => this.datasets.removeSessionDataset(...a);

  // ---- runs (runs.ts) ----
  createRun: RunStore["createRun"] = (...a) => this.runs.createRun(...a);
  getRun: RunStore["getRun"] = (...a) => this.runs.getRun(...a);
  listRuns: RunStore["listRuns"] = (...a) => this.runs.listRuns(...a);
  updateRun: RunStore["updateRun"] = (...a) => this.runs.updateRun(...a);
  markInterrupted: RunStore["markInterrupted"] = (...a) => this.runs.markInterrupted(...a);
  resetQueued: RunStore["resetQueued"] = (...a) => this.runs.resetQueued(...a);
  countRuns: RunStore["countRuns"] = (...a) => this.runs.countRuns(...a);
  listActiveRuns: RunStore["listActive"] = (...a) => this.runs.listActive(...a);

  // ---- loss points (metrics.ts) ----
  appendMetrics: MetricStore["appendMetrics"] = (...a) => this.metricPoints.appendMetrics(...a);
  metrics: MetricStore["metrics"] = (...a) => this.metricPoints.metrics(...a);
  lastIteration: MetricStore["lastIteration"] = (...a) => this.metricPoints.lastIteration(...a);
  metricBuckets: MetricStore["metricBuckets"] = (...a) => this.metricPoints.metricBuckets(...a);
  metricsOverview: MetricStore["metricsOverview"] = (...a) => this.metricPoints.metricsOverview(...a);
  metricsRange: MetricStore["metricsRange"] = (...a) => this.metricPoints.metricsRange(...a);
  metricsTail: MetricStore["metricsTail"] = (...a) => this.metricPoints.metricsTail(...a);

  // ---- sample grids (grids.ts) ----
  saveGrid: GridStore["saveGrid"] = (...a) => this.grids.saveGrid(...a);
  listGrids: GridStore["listGrids"] = (...a) => this.grids.listGrids(...a);
  getGrid: GridStore["getGrid"] = (...a) => this.grids.getGrid(...a);

  // ---- diagnostics (diagnostics.ts) ----
  saveDiagnostics: DiagnosticsStore["saveDiagnostics"] = (...a) => this.diagnostics.saveDiagnostics(...a);
  listDiagnostics: DiagnosticsStore["listDiagnostics"] = (...a) => this.diagnostics.listDiagnostics(...a);

  // ---- checkpoints (checkpoints.ts) ----
  saveCheckpoint: CheckpointStore["saveCheckpoint"] = (...a) => this.checkpoints.saveCheckpoint(...a);
  latestCheckpoint: CheckpointStore["latestCheckpoint"] = (...a) => this.checkpoints.latestCheckpoint(...a);
  listCheckpoints: CheckpointStore["listCheckpoints"] = (...a) => this.checkpoints.listCheckpoints(...a);

  // ---- activity (activity.ts) ----
  addActivity: ActivityStore["addActivity"] = (...a) => this.activity.addActivity(...a);
  listActivity: ActivityStore["listActivity"] = (...a) => this.activity.listActivity(...a);
  listRunActivity: ActivityStore["listRunActivity"] = (...a) => this.activity.listRunActivity(...a);
}
