// The app's commands and events, typed. Every call goes to the Rust side over Tauri's IPC;
// nothing here talks to the network.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** One result: plain fields only (the host unseals nothing for a list). */
export interface Row {
  /** The point id, to ask for the detail. */
  id: string;
  score: number;
  resource_type: string;
  name: string;
  identifier: string;
  account_id: string;
  account_name: string;
  region: string;
  state: string | null;
}

export interface Explored {
  parsed: {
    text: string;
    tags: [string, string[]][];
    accounts: string[];
    regions: string[];
    services: string[];
    types: string[];
  };
  /** Names these results for `exploreRows`. */
  listing: number;
  /** How many results there are; `rows` holds the first of them. */
  total: number;
  rows: Row[];
  took_ms: number;
}

export interface ExploreRequest {
  query: string;
  accounts: string[];
  regions: string[];
  types: string[];
}

export interface Denial {
  action: string;
  explicit: boolean;
}

export interface Detail {
  point_id: string;
  record: {
    resource: {
      resource_type: string;
      identifier: string;
      arn: string;
      name: string;
      account_id: string;
      region: string;
      state: string | null;
      metadata: Record<string, unknown>;
    };
    service: string;
    account_name: string;
    permissions: { allowed: string[]; denied: Denial[] } | null;
    constraints: {
      can_stop: boolean;
      can_start: boolean;
      can_delete: boolean;
      has_backups: boolean;
      has_dependencies: boolean;
      notes: string[];
    };
    principal: string | null;
  };
  tags: Record<string, string>;
  relations: { kind: string; target_arn: string; point_id: string | null; name: string | null }[];
  last_seen: string | null;
  stale: string[];
}

export interface ScopeStatus {
  account_id: string;
  region: string;
  service: string;
  last_attempt: number;
  last_success: number | null;
  duration_ms: number;
  found: number;
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
  embedded: number;
  iam_known: number;
  complete: boolean;
  held_back: number;
  errors: string[];
  iam_success_rate?: number;
}

export interface SyncStatus {
  store: string;
  running: boolean;
  interrupted: boolean;
  accounts: { id: string; name: string; principal: string | null }[];
  failed_accounts: { name: string; error: string; advice: string; at: number }[];
  scopes: ScopeStatus[];
  aws_configured: boolean;
  demo_running: boolean;
}

export type SyncEvent =
  | { type: "emulator_starting" }
  | { type: "seeding"; done: number; total: number; location?: string }
  | { type: "started"; scopes: number }
  | { type: "account_ready"; account: { id: string; name: string; principal: string | null }; scopes: number }
  | { type: "account_failed"; name: string; error: string; scopes: number }
  | { type: "scanned"; scope: string; found: number }
  | { type: "stored"; scope: string; count: number }
  | { type: "scope_done"; status: ScopeStatus }
  | { type: "finished"; scopes: number; found: number; clean: boolean; seconds: number; unpublished: string | null }
  | { type: "failed"; error: string };

export interface PluginView {
  name: string;
  version: string;
  wit: string;
  description: string;
  dir: string;
  sha256: string;
  trust: string;
  services: string[];
  operations: { name: string; sensitive: string | null }[];
  refused: string | null;
}

export interface Plugins {
  plugins: PluginView[];
  broken: { dir: string; error: string }[];
  install_dir: string;
}

export interface RunInfo {
  id: string;
  plan_id: string;
  status: string;
  completed: string[];
  failed: string[];
  requests: number;
}

export interface Executions {
  path: string;
  records: number;
  tampered: string | null;
  runs: RunInfo[];
}

/** An engine event (`type` names it), or the app's `rescanned` after a run. */
export interface RunEvent {
  type: string;
  run: string;
  step?: string;
  line?: string;
  error?: string;
  state?: string | null;
  until?: string;
  elapsed_s?: number;
  outcome?: string | null;
  completed?: string[];
  steps?: string[];
  ms?: number;
  found?: number;
  updated?: number;
  errors?: string[];
}

export interface PlanStep {
  id: string;
  action: string;
  target: { arn: string; id: string; type?: string; resource_type?: string; account: string; region: string };
  params: Record<string, unknown>;
  cli: string;
  depends_on: string[];
  iam: "allowed" | "denied" | "unknown";
}

export interface Plan {
  plan_id: string;
  playbook: { id: string; version: string; commit: string } | null;
  explain: string;
  runnable: boolean;
  steps: PlanStep[];
  risk: { level: string; reasons: string[] };
  approval_required: boolean;
  denied: { step: string; action: string; arn: string; explicit: boolean }[];
  blocked: { step: string; reason: string }[];
  clarify: { question: string; missing: string[]; candidates: { id: string; label: string }[] } | null;
}

export interface PlanView {
  plan: Plan;
  planner: string;
  question: string | null;
  needs_typing: boolean;
}

export interface Resolved {
  query: string;
  plural: boolean;
  resources: { point_id: string; type: string; name: string; id: string; account: string; region: string; state: string | null }[];
  ambiguous: { arn: string; id: string; name: string; resource_type: string; account: string; region: string; score: number }[];
}

export interface Turn {
  session: string;
  at: number;
  role: string;
  text: string;
  plan_id: string | null;
  run_id: string | null;
}

export const api = {
  appInfo: () => invoke<{ data_dir: string; version: string; synced: boolean }>("app_info"),
  explore: (request: ExploreRequest) => invoke<Explored>("explore", { request }),
  exploreRows: (listing: number, offset: number, count: number) =>
    invoke<Row[]>("explore_rows", { listing, offset, count }),
  detail: (pointId: string) => invoke<Detail>("resource_detail", { pointId }),
  syncStatus: () => invoke<SyncStatus>("sync_status"),
  startSync: () => invoke<unknown>("start_sync"),
  startDemo: () => invoke<unknown>("start_demo"),
  plugins: () => invoke<Plugins>("list_plugins"),
  installPlugin: (path: string) => invoke<PluginView>("install_plugin", { path }),
  trustPlugin: (name: string) => invoke<PluginView>("trust_plugin", { name }),
  executions: () => invoke<Executions>("list_executions"),
  executionRecords: (run: string) => invoke<Record<string, unknown>[]>("execution_records", { run }),
  executionEvents: (run: string) => invoke<RunEvent[]>("execution_events", { run }),
  cancelExecution: (run: string) => invoke<void>("cancel_execution", { run }),
  chatHistory: () => invoke<Turn[]>("chat_history"),
  chatResolve: (prompt: string) => invoke<Resolved>("chat_resolve", { prompt }),
  chatPlan: (prompt: string, keep: string[]) => invoke<PlanView>("chat_plan", { prompt, keep }),
  chatApprove: (planId: string, typed: string | null) =>
    invoke<{ approval_id: string; run: string }>("chat_approve", { planId, typed }),
};

export function onExecution(handler: (e: RunEvent) => void): Promise<UnlistenFn> {
  return listen<RunEvent>("execution", (event) => handler(event.payload));
}

export function onSync(handler: (e: SyncEvent) => void): Promise<UnlistenFn> {
  return listen<SyncEvent>("sync", (event) => handler(event.payload));
}
