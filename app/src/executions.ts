// The Executions view: runs from the hash-chained audit log (verified on every read), each
// run's records (plan, approval, principal, requests, step events and output), and live runs
// streaming their events.
import { api, type RunSummary } from "./api";
import { h, message, replace } from "./dom";
import type { View } from "./main";

function statusText(status: unknown): string {
  if (typeof status === "string") return status;
  if (status && typeof status === "object") {
    const [k, v] = Object.entries(status)[0] ?? ["", ""];
    return `${k}: ${String(v)}`;
  }
  return String(status);
}

export function executionsView(root: HTMLElement): View {
  const list = h("div", { id: "executions-list" });
  const records = h("div", { id: "execution-records", class: "log", tabindex: 0, "aria-label": "Audit records of the selected run" }, "Select a run.");
  const head = h("p", { class: "muted", id: "executions-head" });
  replace(root,
    h("div", { class: "row" }, h("h2", {}, "Executions"),
      h("button", { "data-autofocus": true, onclick: () => void refresh() }, "Refresh")),
    head, list, h("h3", {}, "Audit record"), records);

  async function open(run: RunSummary): Promise<void> {
    try {
      const recs = await api.executionRecords(run.run);
      records.textContent = recs.map((r) => JSON.stringify(r)).join("\n");
    } catch (e) {
      records.textContent = message(e);
    }
  }

  async function refresh(): Promise<void> {
    try {
      const ex = await api.executions();
      head.textContent = ex.tampered
        ? ex.tampered
        : `${ex.records} records in ${ex.path}; the hash chain verifies.`;
      head.className = ex.tampered ? "error" : "muted";
      replace(list, ex.runs.length
        ? h("table", {},
            h("thead", {}, h("tr", {}, ["Run", "Plan", "Status", "Completed", "Failed", "Requests", ""].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ex.runs.map((r) => h("tr", { "data-run": r.run },
              h("td", {}, r.run), h("td", {}, r.plan_id.slice(0, 12)), h("td", {}, statusText(r.status)),
              h("td", {}, r.completed.join(", ")), h("td", {}, r.failed.join(", ")), h("td", {}, r.requests),
              h("td", {}, h("button", { onclick: () => void open(r) }, "Audit record"))))))
        : h("p", { class: "muted" }, "No runs yet: approve a plan in Chat."));
    } catch (e) {
      replace(list, h("p", { class: "error" }, message(e)));
    }
  }

  return {
    show() {
      void refresh();
    },
  };
}
