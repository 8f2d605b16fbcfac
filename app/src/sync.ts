// The Sync view: how the last sync of every account/region/service went, a Sync button with
// live progress per scope (from the host's sync events), errors in words, and — on a first
// run with no AWS configuration — the demo estate on the local emulator.
import { api, onSync, type ScopeStatus, type SyncEvent, type SyncStatus } from "./api";
import { announce, h, message, replace } from "./dom";
import type { View } from "./main";

interface Live {
  found: number;
  stored: number;
  done: boolean;
  errors: string[];
}

function ago(t: number | null): string {
  if (!t) return "never";
  const s = Math.max(0, Math.floor(Date.now() / 1000) - t);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

export function syncView(root: HTMLElement): View {
  const live = new Map<string, Live>();
  let totalScopes = 0;
  let running = false;
  const names = new Map<string, string>();

  const syncButton = h("button", { id: "sync-button", class: "primary", "data-autofocus": true, onclick: () => void start(false) }, "Sync");
  const demoButton = h("button", { id: "demo-button", onclick: () => void start(true) }, "Load the demo estate");
  const offer = h("div", { id: "demo-offer" });
  const progressBar = h("progress", { id: "sync-progress", max: 1, value: 0, "aria-label": "Sync progress" }) as HTMLProgressElement;
  const progressText = h("span", { id: "sync-progress-text", role: "status", "aria-live": "polite" });
  const outcome = h("p", { id: "sync-outcome", role: "status" });
  const table = h("div", { id: "sync-scopes" });
  const head = h("p", { class: "muted", id: "sync-store" });

  replace(root,
    h("div", { class: "row" }, h("h2", {}, "Sync"), syncButton, demoButton),
    offer,
    h("div", { class: "row" }, progressBar, progressText),
    outcome, head, table);

  function scopeKey(s: { account_id: string; region: string; service: string }): string {
    return `${s.account_id}/${s.region}/${s.service}`;
  }

  function renderProgress(): void {
    const done = [...live.values()].filter((l) => l.done).length;
    const stored = [...live.values()].reduce((n, l) => n + l.stored, 0);
    progressBar.max = Math.max(1, totalScopes);
    progressBar.value = done;
    progressText.textContent = totalScopes ? `${done}/${totalScopes} scopes, ${stored.toLocaleString()} resources stored` : "";
  }

  function renderTable(status: SyncStatus | null): void {
    const scopes = new Map<string, ScopeStatus>();
    for (const s of status?.scopes ?? []) scopes.set(scopeKey(s), s);
    const keys = new Set([...scopes.keys(), ...live.keys()]);
    if (!keys.size) {
      replace(table, h("p", { class: "muted" }, "Nothing synced yet."));
      return;
    }
    const rows = [...keys].sort().map((key) => {
      const s = scopes.get(key);
      const l = live.get(key);
      const [account, region, service] = key.split("/");
      const state = l && !l.done ? `syncing: ${l.found} found, ${l.stored} stored` : s ? ago(s.last_success) : "";
      const errors = l?.errors.length ? l.errors : s?.errors ?? [];
      return h("tr", { "data-scope": key },
        h("td", {}, names.get(account) ? `${names.get(account)} (${account})` : account),
        h("td", {}, region), h("td", {}, service), h("td", {}, state),
        h("td", {}, s?.found ?? l?.found ?? 0),
        h("td", {}, s ? `${Math.round((s.iam_success_rate ?? 1) * 100)}%` : ""),
        h("td", { class: errors.length ? "error" : "" }, errors.join("; ")));
    });
    replace(table, h("table", {},
      h("thead", {}, h("tr", {}, ["Account", "Region", "Service", "Last success", "Found", "IAM", "Errors"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
  }

  async function refresh(): Promise<void> {
    try {
      const status = await api.syncStatus();
      for (const a of status.accounts) names.set(a.id, a.name);
      head.textContent = `Store: ${status.store}${status.interrupted ? " — the last sync was interrupted; sync again" : ""}`;
      const failed = status.failed_accounts.map((f) => h("p", { class: "error" }, `Account ${f.name}: ${f.error}. What to do: ${f.advice}`));
      const firstRun = !status.aws_configured && !status.scopes.length && !status.demo_running;
      replace(offer,
        firstRun
          ? h("div", { class: "card" },
              h("strong", {}, "No AWS configuration found."),
              h("span", {}, "Load the demo estate to try cloudops: a local AWS emulator with three accounts and about 6,000 resources, synced through the sandboxed plugins. Nothing leaves this machine."))
          : null,
        failed);
      demoButton.hidden = status.demo_running;
      running = status.running;
      syncButton.toggleAttribute("disabled", running);
      demoButton.toggleAttribute("disabled", running);
      renderTable(status);
    } catch (e) {
      replace(offer, h("p", { class: "error" }, message(e)));
    }
  }

  async function start(demo: boolean): Promise<void> {
    live.clear();
    totalScopes = 0;
    outcome.textContent = demo ? "Starting the local AWS emulator…" : "Starting…";
    outcome.className = "";
    syncButton.setAttribute("disabled", "");
    demoButton.setAttribute("disabled", "");
    try {
      await (demo ? api.startDemo() : api.startSync());
    } catch (e) {
      outcome.textContent = message(e);
      outcome.className = "error";
    }
    await refresh();
  }

  function handle(e: SyncEvent): void {
    switch (e.type) {
      case "emulator_starting":
        outcome.textContent = "Starting the local AWS emulator…";
        break;
      case "seeding":
        progressBar.max = Math.max(1, e.total);
        progressBar.value = e.done;
        progressText.textContent = `seeding the demo estate: ${e.done.toLocaleString()}/${e.total.toLocaleString()} resources`;
        break;
      case "started":
        totalScopes = e.scopes;
        outcome.textContent = `Syncing ${e.scopes} scopes…`;
        renderProgress();
        break;
      case "account_ready":
        names.set(e.account.id, e.account.name);
        break;
      case "account_failed":
        outcome.textContent = `Account ${e.name} could not be synced: ${e.error}`;
        outcome.className = "error";
        break;
      case "scanned":
      case "stored": {
        const [account, region, service] = e.scope.split("/");
        const key = scopeKey({ account_id: account, region, service });
        const l = live.get(key) ?? { found: 0, stored: 0, done: false, errors: [] };
        if (e.type === "scanned") l.found = e.found;
        else l.stored += e.count;
        live.set(key, l);
        renderProgress();
        break;
      }
      case "scope_done": {
        const key = scopeKey(e.status);
        live.set(key, { found: e.status.found, stored: e.status.added + e.status.updated + e.status.unchanged, done: true, errors: e.status.errors });
        renderProgress();
        renderTable(null);
        break;
      }
      case "finished":
        outcome.textContent = `Sync complete: ${e.found.toLocaleString()} resources from ${e.scopes} scopes in ${e.seconds.toFixed(1)} s${e.clean ? "" : " — some scopes had errors (below)"}${e.unpublished ? `; searches still see the state before it: ${e.unpublished}` : ""}`;
        outcome.className = e.clean ? "ok" : "warn";
        outcome.id = "sync-outcome";
        outcome.dataset.done = "true";
        announce("sync complete");
        void refresh();
        break;
      case "failed":
        outcome.textContent = `Sync failed: ${e.error}`;
        outcome.className = "error";
        break;
    }
  }
  void onSync(handle);

  return {
    show() {
      void refresh();
    },
  };
}
