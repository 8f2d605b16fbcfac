// The Executions view: running and past runs (the audit log, verified on every read), each
// run's step log (its events, live while it runs), cancel for a running one, and its audit
// record (plan, approval, principal, every request with its parameters scrubbed).
import { api, onExecution, type RunEvent, type RunInfo } from "./api";
import { h, message, replace } from "./dom";
import type { View } from "./main";

function describe(e: RunEvent): string {
  const what = e.type.replace(/_/g, " ");
  const detail = e.line ?? e.error ?? (e.state !== undefined ? `${e.state ?? "not found"} → ${e.until}` : "");
  return `${e.step ? `${e.step}: ` : ""}${what}${detail ? `: ${detail}` : ""}${e.outcome ? ` (${e.outcome})` : ""}`;
}

export function executionsView(root: HTMLElement): View {
  const list = h("div", { id: "executions-list" });
  const head = h("p", { class: "muted", id: "executions-head" });
  const steps = h("div", { id: "execution-steps", class: "log", tabindex: 0, "aria-label": "Step log of the selected run" }, "Select a run.");
  const records = h("div", { id: "execution-records", class: "log", tabindex: 0, "aria-label": "Audit record of the selected run" });
  let open: string | null = null;
  replace(root,
    h("div", { class: "row" }, h("h2", {}, "Executions"),
      h("button", { "data-autofocus": true, onclick: () => void refresh() }, "Refresh")),
    head, list, h("h3", {}, "Steps"), steps, h("h3", {}, "Audit record"), records);

  async function show(run: RunInfo): Promise<void> {
    open = run.id;
    try {
      const events = await api.executionEvents(run.id);
      steps.textContent = events.map(describe).join("\n");
    } catch (e) {
      steps.textContent = message(e);
    }
    try {
      const recs = await api.executionRecords(run.id);
      records.textContent = recs.map((r) => JSON.stringify(r)).join("\n");
    } catch (e) {
      records.textContent = message(e);
    }
  }

  async function cancel(run: RunInfo): Promise<void> {
    try {
      await api.cancelExecution(run.id);
      head.textContent = `Cancelling ${run.id}: the call in flight finishes, nothing after it starts.`;
    } catch (e) {
      head.textContent = message(e);
    }
  }

  async function refresh(): Promise<void> {
    try {
      const ex = await api.executions();
      head.textContent = ex.tampered ?? `${ex.records} records in ${ex.path}; the hash chain verifies.`;
      head.className = ex.tampered ? "error" : "muted";
      replace(list, ex.runs.length
        ? h("table", {},
            h("thead", {}, h("tr", {}, ["Run", "Plan", "Status", "Completed", "Failed", "Requests", ""].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ex.runs.map((r) => h("tr", { "data-run": r.id },
              h("td", {}, r.id), h("td", {}, r.plan_id.slice(0, 12)), h("td", {}, r.status),
              h("td", {}, r.completed.join(", ")), h("td", {}, r.failed.join(", ")), h("td", {}, r.requests),
              h("td", {},
                h("button", { onclick: () => void show(r) }, `Show ${r.id.slice(0, 8)}`),
                r.status === "running" ? h("button", { class: "danger", onclick: () => void cancel(r) }, "Cancel") : null)))))
        : h("p", { class: "muted" }, "No runs yet: approve a plan in Chat."));
    } catch (e) {
      replace(list, h("p", { class: "error" }, message(e)));
    }
  }

  // The open run's log grows as its events arrive; the list follows runs starting and ending.
  void onExecution((e) => {
    if (e.run === open) steps.textContent += `\n${describe(e)}`;
    if (e.type === "run_started" || e.type === "run_finished") void refresh();
  });

  return {
    show() {
      void refresh();
    },
  };
}
