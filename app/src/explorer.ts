// The resource explorer: `cloudops search`'s query language, filter chips, a virtualised
// result list (only the rows on screen exist in the DOM, and only those near the screen are
// fetched from the host, so 100k results scroll smoothly) and a detail panel with navigable
// relations.
import { api, type Detail, type Explored, type Row } from "./api";
import { announce, h, message, replace } from "./dom";
import type { View } from "./main";

const ROW = 28;
const TYPES = [
  "ec2_instance", "ec2_volume", "ec2_snapshot", "rds_instance", "rds_cluster", "rds_snapshot",
  "s3_bucket", "lambda_function", "lambda_layer", "lambda_alias", "vpc", "vpc_subnet",
  "vpc_security_group", "elb_load_balancer",
];

/** Latency samples (ms from a keystroke to its results painted), read by the e2e tests. */
interface Probe {
  latencies: number[];
  /** The host's share of each (parse, embed, search, decode), from its answer. */
  host: number[];
  /** From the keystroke to the answer's arrival (queueing behind a search, IPC, host). */
  answered: number[];
  /** From the keystroke to the DOM updated (the answer plus the page's own script). */
  updated: number[];
  lastQuery: string;
  lastCount: number;
}
declare global {
  interface Window {
    __cloudops: Probe;
  }
}
window.__cloudops = { latencies: [], host: [], answered: [], updated: [], lastQuery: "", lastCount: -1 };

type ChipKind = "types" | "accounts" | "regions";

export function explorerView(root: HTMLElement): View {
  const chips: Record<ChipKind, string[]> = { types: [], accounts: [], regions: [] };
  // Sparse: a search answers with its first rows; the rest arrive as the list scrolls to them.
  let rows: (Row | undefined)[] = [];
  let listing = 0;
  let fetching = false;
  let selected = -1;

  const query = h("input", {
    id: "explorer-query", type: "search", "data-autofocus": true, autocomplete: "off",
    placeholder: "pg-main1 · production database · env=prod AND app=main · in us-west-2",
    "aria-describedby": "explorer-summary", size: 60,
  }) as HTMLInputElement;
  const chipRow = h("div", { class: "chips", "aria-label": "Filters" });
  const typeSelect = h("select", { id: "chip-type", "aria-label": "Add a type filter" },
    h("option", { value: "" }, "+ type"), TYPES.map((t) => h("option", { value: t }, t))) as HTMLSelectElement;
  const accountSelect = h("select", { id: "chip-account", "aria-label": "Add an account filter" }) as HTMLSelectElement;
  const regionSelect = h("select", { id: "chip-region", "aria-label": "Add a region filter" }) as HTMLSelectElement;
  const summary = h("p", { id: "explorer-summary", class: "muted", role: "status" });
  const list = h("div", {
    class: "list", id: "explorer-results", role: "listbox", tabindex: 0, "aria-label": "Results",
  });
  const spacer = h("div", { class: "spacer" });
  list.append(spacer);
  const detail = h("div", { class: "detail", id: "explorer-detail", "aria-live": "polite", tabindex: -1 },
    h("p", { class: "muted" }, "Select a result (arrow keys, Enter) to see its detail."));

  replace(root,
    h("div", { class: "row" }, h("label", { for: "explorer-query" }, "Search"), query),
    h("div", { class: "row" }, typeSelect, accountSelect, regionSelect, chipRow),
    summary,
    h("div", { class: "split" }, list, detail));

  function renderChips(parsed?: Explored["parsed"]): void {
    const own = (Object.keys(chips) as ChipKind[]).flatMap((kind) =>
      chips[kind].map((value) =>
        h("button", {
          class: "chip", "aria-label": `Remove filter ${value}`,
          onclick: () => { chips[kind] = chips[kind].filter((v) => v !== value); run(); },
        }, `${value} ✕`)));
    // What the query itself implies ("in us-west-2", "env=prod"), shown as read.
    const implied = parsed
      ? [...parsed.types.filter((t) => !chips.types.includes(t)),
         ...parsed.regions.filter((r) => !chips.regions.includes(r)),
         ...parsed.accounts.filter((a) => !chips.accounts.includes(a)),
         ...parsed.tags.map(([k, v]) => `${k}=${v[0] ?? ""}`)]
          .map((t) => h("span", { class: "chip implied", title: "from the query" }, t))
      : [];
    replace(chipRow, own, implied);
  }

  function addChip(kind: ChipKind, select: HTMLSelectElement): void {
    const value = select.value;
    select.value = "";
    if (value && !chips[kind].includes(value)) {
      chips[kind].push(value);
      run();
    }
  }
  typeSelect.addEventListener("change", () => addChip("types", typeSelect));
  accountSelect.addEventListener("change", () => addChip("accounts", accountSelect));
  regionSelect.addEventListener("change", () => addChip("regions", regionSelect));

  async function loadChipChoices(): Promise<void> {
    try {
      const status = await api.syncStatus();
      replace(accountSelect, h("option", { value: "" }, "+ account"),
        status.accounts.map((a) => h("option", { value: a.id }, `${a.name} (${a.id})`)));
      const regions = [...new Set(status.scopes.map((s) => s.region))].sort();
      replace(regionSelect, h("option", { value: "" }, "+ region"),
        regions.map((r) => h("option", { value: r }, r)));
    } catch {
      // No status yet: the selects stay empty until the next time the view is shown.
    }
  }

  /** Draws the rows in view (plus a few either side). */
  function paint(): void {
    spacer.style.height = `${rows.length * ROW}px`;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    const last = Math.min(rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 5);
    const items: HTMLElement[] = [];
    let missing = -1;
    for (let i = first; i < last; i++) {
      const r = rows[i];
      if (!r) {
        if (missing < 0) missing = i;
        const item = h("div", { class: "item muted", role: "option", id: `result-${i}`, "aria-busy": "true" }, "…");
        item.style.top = `${i * ROW}px`;
        items.push(item);
        continue;
      }
      const item = h("div", {
        class: "item", role: "option", id: `result-${i}`, "data-index": i,
        "aria-selected": String(i === selected), "data-name": r.name, "data-id": r.identifier,
        onclick: () => select(i, true),
      },
        h("span", {}, r.resource_type), h("span", {}, r.name), h("span", {}, r.identifier),
        h("span", {}, r.account_name), h("span", {}, r.region), h("span", {}, r.state ?? ""));
      item.style.top = `${i * ROW}px`;
      items.push(item);
    }
    replace(spacer, items);
    if (selected >= 0) list.setAttribute("aria-activedescendant", `result-${selected}`);
    else list.removeAttribute("aria-activedescendant");
    if (missing >= 0) void fetchRows(missing, last);
  }

  /** Asks the host for rows `from..to` (and a screenful beyond), then paints them. */
  async function fetchRows(from: number, to: number): Promise<void> {
    if (fetching) return;
    fetching = true;
    const asked = listing;
    try {
      const page = await api.exploreRows(asked, from, to - from + 100);
      if (asked !== listing) return;
      page.forEach((row, k) => { rows[from + k] = row; });
    } catch (e) {
      // Replaced by a newer search (whose own answer repaints), or the host failed: say so.
      if (asked === listing) {
        summary.textContent = message(e);
        summary.className = "error";
      }
      return;
    } finally {
      fetching = false;
    }
    paint();
  }
  list.addEventListener("scroll", () => requestAnimationFrame(paint));

  function select(i: number, open: boolean): void {
    if (i < 0 || i >= rows.length) return;
    selected = i;
    const top = i * ROW;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW - list.clientHeight;
    paint();
    const row = rows[i];
    if (open && row) void showDetail(row.id);
  }

  list.addEventListener("keydown", (e) => {
    const page = Math.max(1, Math.floor(list.clientHeight / ROW) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in moves) {
      select(Math.min(rows.length - 1, Math.max(0, selected + moves[e.key])), false);
      e.preventDefault();
    } else if (e.key === "Home" || e.key === "End") {
      select(e.key === "Home" ? 0 : rows.length - 1, false);
      e.preventDefault();
    } else if (e.key === "Enter" && rows[selected]) {
      void showDetail(rows[selected]!.id);
      e.preventDefault();
    }
  });
  query.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && rows.length) {
      list.focus();
      select(Math.max(0, selected), false);
      e.preventDefault();
    } else if (e.key === "Enter" && rows.length) {
      select(0, true);
      e.preventDefault();
    }
  });

  // One search in flight at a time; keystrokes typed meanwhile coalesce into the newest
  // query, which runs as soon as the one in flight is painted. Nothing queues up behind a
  // fast typist, and every painted answer is for what the box held when it was asked.
  let inFlight = false;
  let pending: { text: string; started: number } | null = null;

  function run(): void {
    const request = { text: query.value, started: performance.now() };
    if (inFlight) {
      pending = request;
      return;
    }
    void execute(request);
  }

  async function execute(request: { text: string; started: number }): Promise<void> {
    inFlight = true;
    try {
      const result = await api.explore({ query: request.text, ...chips });
      const answered = performance.now() - request.started;
      rows = new Array<Row | undefined>(result.total);
      result.rows.forEach((row, k) => { rows[k] = row; });
      listing = result.listing;
      selected = -1;
      list.scrollTop = 0;
      paint();
      renderChips(result.parsed);
      summary.textContent = `${result.total.toLocaleString()} results in ${result.took_ms.toFixed(1)} ms`;
      summary.className = "muted";
      const updated = performance.now() - request.started;
      // Painted once the browser has drawn the next frame.
      await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
      const probe = window.__cloudops;
      probe.latencies.push(performance.now() - request.started);
      probe.host.push(result.took_ms);
      probe.answered.push(answered);
      probe.updated.push(updated);
      probe.lastQuery = request.text;
      probe.lastCount = rows.length;
    } catch (e) {
      rows = [];
      paint();
      summary.textContent = message(e);
      summary.className = "error";
    } finally {
      inFlight = false;
      const next = pending;
      pending = null;
      if (next) void execute(next);
    }
  }
  query.addEventListener("input", run);

  async function showDetail(pointId: string): Promise<void> {
    openDetail = pointId;
    try {
      renderDetail(await api.detail(pointId));
    } catch (e) {
      replace(detail, h("p", { class: "error" }, message(e)));
    }
  }

  function renderDetail(d: Detail): void {
    const r = d.record.resource;
    const c = d.record.constraints;
    const perms = d.record.permissions;
    const yes = (b: boolean) => (b ? "yes" : "no");
    replace(detail,
      h("h2", { id: "detail-title" }, r.name || r.identifier),
      h("dl", {},
        h("dt", {}, "type"), h("dd", {}, r.resource_type),
        h("dt", {}, "id"), h("dd", { id: "detail-id" }, r.identifier),
        h("dt", {}, "ARN"), h("dd", {}, r.arn),
        h("dt", {}, "account"), h("dd", {}, `${d.record.account_name} (${r.account_id})`),
        h("dt", {}, "region"), h("dd", {}, r.region),
        h("dt", {}, "state"), h("dd", { id: "detail-state" }, r.state ?? "—"),
        h("dt", {}, "last seen"), h("dd", {}, d.last_seen ?? "unknown"),
        h("dt", {}, "principal"), h("dd", {}, d.record.principal ?? "unknown")),
      d.stale.length ? h("p", { class: "warn" }, `Stale: ${d.stale.join(", ")} (the last read failed; Sync reads it again)`) : null,
      h("h3", {}, "You may"),
      perms
        ? h("div", { id: "detail-permissions" },
            h("p", {}, h("strong", {}, "Allowed: "), perms.allowed.length ? perms.allowed.join(", ") : "nothing"),
            h("p", {}, h("strong", {}, "Denied: "),
              perms.denied.length ? perms.denied.map((x) => `${x.action}${x.explicit ? " (explicit deny)" : ""}`).join(", ") : "nothing"))
        : h("p", { id: "detail-permissions", class: "warn" }, "IAM permissions unknown: the sync could not ask IAM (see Sync)."),
      h("h3", {}, "Constraints"),
      h("dl", {},
        h("dt", {}, "can stop"), h("dd", {}, yes(c.can_stop)),
        h("dt", {}, "can start"), h("dd", {}, yes(c.can_start)),
        h("dt", {}, "can delete"), h("dd", {}, yes(c.can_delete)),
        h("dt", {}, "has backups"), h("dd", {}, yes(c.has_backups)),
        h("dt", {}, "has dependencies"), h("dd", {}, yes(c.has_dependencies))),
      c.notes.length ? h("ul", {}, c.notes.map((n) => h("li", {}, n))) : null,
      h("h3", {}, "Relations"),
      d.relations.length
        ? h("ul", { class: "plain" }, d.relations.map((rel) => h("li", {},
            `${rel.kind}: `,
            rel.point_id
              ? h("button", { onclick: () => void showDetail(rel.point_id!) }, rel.name || rel.target_arn)
              : h("span", { class: "muted" }, `${rel.target_arn} (not in the estate)`))))
        : h("p", { class: "muted" }, "none"),
      Object.keys(d.tags).length
        ? [h("h3", {}, "Tags"), h("dl", {}, Object.entries(d.tags).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))]
        : null,
      h("h3", {}, "Metadata"),
      h("dl", {}, Object.entries(r.metadata).filter(([k]) => !k.startsWith("_"))
        .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))])));
    announce(`showing ${r.name || r.identifier}`);
  }

  let openDetail: string | null = null;
  return {
    show() {
      // Asked again each time: a sync or a run may have changed what the estate holds.
      void loadChipChoices();
      run();
      if (openDetail) void showDetail(openDetail);
    },
  };
}

