// The app's commands and events, typed. Every call goes to the Rust side over Tauri's IPC;
// nothing here talks to the network.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export interface Row {
  point_id: string;
  resource_type: string;
  name: string;
  id: string;
  account: string;
  account_name: string;
  region: string;
  state: string | null;
  score: number;
  may: string;
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

export interface RunSummary {
  run: string;
  plan_id: string;
  status: unknown;
  completed: string[];
  failed: string[];
  requests: number;
}

export interface Executions {
  path: string;
  records: number;
  tampered: string | null;
  runs: RunSummary[];
}

export const api = {
  appInfo: () => invoke<{ data_dir: string; version: string; synced: boolean }>("app_info"),
  explore: (request: ExploreRequest) => invoke<Explored>("explore", { request }),
  detail: (pointId: string) => invoke<Detail>("resource_detail", { pointId }),
  syncStatus: () => invoke<SyncStatus>("sync_status"),
  startSync: () => invoke<unknown>("start_sync"),
  startDemo: () => invoke<unknown>("start_demo"),
  plugins: () => invoke<Plugins>("list_plugins"),
  installPlugin: (path: string) => invoke<PluginView>("install_plugin", { path }),
  trustPlugin: (name: string) => invoke<PluginView>("trust_plugin", { name }),
  executions: () => invoke<Executions>("list_executions"),
  executionRecords: (run: string) => invoke<Record<string, unknown>[]>("execution_records", { run }),
};

export function onSync(handler: (e: SyncEvent) => void): Promise<UnlistenFn> {
  return listen<SyncEvent>("sync", (event) => handler(event.payload));
}
