// The Chat view: prompt → identified resources (uncheck any before planning) → plan card
// (explain, steps with their AWS CLI equivalents, risk and reasons, IAM verdicts, denied and
// blocked steps) → Approve (the same scoped, single-use approval as the CLI; a high-risk plan
// needs its target's name typed) → the run's events live → the outcome. History first.
import { api, onExecution, type PlanView, type Resolved, type RunEvent } from "./api";
import { announce, h, message, replace } from "./dom";
import type { View } from "./main";

export function chatView(root: HTMLElement): View {
  const messages = h("div", { class: "messages", id: "chat-messages", "aria-live": "polite" });
  const prompt = h("textarea", {
    id: "chat-prompt", rows: 2, cols: 70, "data-autofocus": true,
    placeholder: "stop pg-instance-main1 · reboot the web servers in staging",
    "aria-describedby": "chat-hint",
  }) as HTMLTextAreaElement;
  const send = h("button", { id: "chat-send", class: "primary", onclick: () => void resolve() }, "Find resources");
  replace(root,
    h("h2", {}, "Chat"),
    messages,
    h("div", { class: "row" }, h("label", { for: "chat-prompt" }, "Ask"), prompt, send),
    h("p", { id: "chat-hint", class: "muted" }, "Enter finds the resources; you can uncheck any before planning. Nothing runs without your approval."));
  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void resolve();
    }
  });

  const runs = new Map<string, HTMLElement>();

  function say(...children: (Node | string | null)[]): HTMLElement {
    const card = h("div", { class: "card" }, ...children);
    messages.append(card);
    card.scrollIntoView({ block: "end" });
    return card;
  }

  async function resolve(): Promise<void> {
    const text = prompt.value.trim();
    if (!text) return;
    prompt.value = "";
    say(h("strong", {}, "You: "), text);
    try {
      const resolved = await api.chatResolve(text);
      showResolved(text, resolved);
    } catch (e) {
      say(h("span", { class: "error" }, message(e)));
    }
  }

  function showResolved(text: string, r: Resolved): void {
    if (r.ambiguous.length) {
      say(h("strong", {}, "Which one do you mean? "),
        h("ul", {}, r.ambiguous.map((c) => h("li", {}, `${c.name} (${c.resource_type}, ${c.account}, ${c.region})`))),
        h("span", { class: "muted" }, "Name it in the prompt and ask again."));
      return;
    }
    if (!r.resources.length) {
      say(h("span", { class: "warn" }, `Nothing in the estate matches "${r.query}". Is it synced? (Sync)`));
      return;
    }
    const boxes = r.resources.map((res) =>
      h("input", { type: "checkbox", checked: true, id: `keep-${res.point_id}`, "data-point": res.point_id }) as HTMLInputElement);
    const planButton = h("button", { class: "primary", id: "chat-plan" }, "Plan");
    const card = say(
      h("strong", {}, `Identified ${r.resources.length} resource${r.resources.length > 1 ? "s" : ""}:`),
      h("ul", { class: "plain", id: "chat-resources" }, r.resources.map((res, i) => h("li", {},
        boxes[i], " ",
        h("label", { for: `keep-${res.point_id}` }, `${res.name || res.id} — ${res.type}, ${res.account}, ${res.region}${res.state ? `, ${res.state}` : ""}`)))),
      planButton);
    planButton.addEventListener("click", async () => {
      const keep = boxes.filter((b) => b.checked).map((b) => b.dataset.point!);
      planButton.setAttribute("disabled", "");
      try {
        showPlan(await api.chatPlan(text, keep));
      } catch (e) {
        card.append(h("p", { class: "error" }, message(e)));
        planButton.removeAttribute("disabled");
      }
    });
    planButton.focus();
  }

  function showPlan(view: PlanView): void {
    const p = view.plan;
    const riskClass = p.risk.level === "low" ? "ok" : p.risk.level === "medium" ? "warn" : "error";
    const card = say(
      h("h3", {}, "Plan"),
      h("p", { id: "plan-explain" }, p.explain),
      h("p", {}, h("strong", {}, "Risk: "), h("span", { class: `badge ${riskClass}`, id: "plan-risk" }, p.risk.level),
        p.risk.reasons.length ? ` — ${p.risk.reasons.join("; ")}` : ""),
      p.steps.length
        ? h("ol", { id: "plan-steps" }, p.steps.map((s) => h("li", {},
            h("strong", {}, s.action), ` on ${s.target.id} (${s.target.account}, ${s.target.region}) — IAM: `,
            h("span", { class: s.iam === "allowed" ? "ok" : s.iam === "denied" ? "error" : "warn" }, s.iam),
            h("div", { class: "log" }, s.cli))))
        : null,
      p.denied.length
        ? h("div", { id: "plan-denied" }, h("strong", { class: "error" }, "Denied by IAM:"),
            h("ul", {}, p.denied.map((d) => h("li", {}, `${d.step}: ${d.action} on ${d.arn}${d.explicit ? " (explicit deny)" : ""}`))))
        : null,
      p.blocked.length
        ? h("div", { id: "plan-blocked" }, h("strong", { class: "warn" }, "Blocked:"),
            h("ul", {}, p.blocked.map((b) => h("li", {}, `${b.step}: ${b.reason}`))))
        : null,
      p.clarify ? h("p", { class: "warn" }, `${p.clarify.question} (${p.clarify.missing.join(", ")})`) : null,
      h("p", { class: "muted" }, `plan ${p.plan_id.slice(0, 12)} · ${p.playbook ? `${p.playbook.id}@${p.playbook.version}` : "no playbook"} · ${view.planner}`));
    if (!p.runnable) {
      // A plan that cannot run (denied, blocked, unclear) has no Approve button at all.
      card.append(h("p", { class: "muted", id: "plan-not-runnable" }, "This plan cannot run, so there is nothing to approve."));
      return;
    }
    const typed = view.needs_typing
      ? h("input", { id: "approve-typed", "aria-label": view.question ?? "Confirmation", placeholder: view.question ?? "" }) as HTMLInputElement
      : null;
    const approve = h("button", { class: view.needs_typing ? "danger" : "primary", id: "approve-button" }, "Approve and run");
    card.append(
      view.question ? h("p", { id: "approve-question" }, view.question) : null as unknown as Node,
      h("div", { class: "row" }, typed ? h("label", { for: "approve-typed" }, "Confirm") : "", typed ?? "", approve),
    );
    approve.addEventListener("click", async () => {
      approve.setAttribute("disabled", "");
      // Medium risk asks `yes` on the command line; pressing Approve is that answer here.
      const given = typed ? typed.value : view.question ? "yes" : null;
      try {
        const started = await api.chatApprove(p.plan_id, given);
        const log = h("div", { class: "log", id: `run-${started.run}`, "data-run": started.run, tabindex: 0 },
          `run ${started.run} started\n`);
        runs.set(started.run, log);
        card.append(h("h3", {}, "Run"), log);
        announce("run started");
      } catch (e) {
        card.append(h("p", { class: "error" }, message(e)));
        approve.removeAttribute("disabled");
      }
    });
    (typed ?? approve).focus();
  }

  function line(e: RunEvent): string {
    switch (e.type) {
      case "run_started": return `started: steps ${(e.steps ?? []).join(", ")}`;
      case "step_started": return `${e.step}: started`;
      case "output": return `${e.step}: ${e.line}`;
      case "waiter_progress": return `${e.step}: ${e.state ?? "not found"} (waiting for ${e.until}, ${e.elapsed_s} s)`;
      case "step_finished": return `${e.step}: finished in ${e.ms} ms`;
      case "step_failed": return `${e.step}: FAILED: ${e.error}`;
      case "step_cancelled": return `${e.step}: cancelled`;
      case "step_skipped": return `${e.step}: skipped`;
      case "run_finished": return `run ${e.outcome}`;
      case "rescanned": return `re-scanned: ${e.found ?? 0} found, ${e.updated ?? 0} updated${e.errors?.length ? `; ${e.errors.join("; ")}` : ""}`;
      default: return JSON.stringify(e);
    }
  }

  void onExecution((e) => {
    const log = runs.get(e.run);
    if (!log) return;
    log.textContent += `${line(e)}\n`;
    if (e.type === "rescanned") {
      log.dataset.done = "true";
      log.dataset.outcome = String(e.outcome ?? "");
      announce(`run ${e.outcome}`);
    }
  });

  let loaded = false;
  return {
    show() {
      if (loaded) return;
      loaded = true;
      api.chatHistory().then((turns) => {
        if (turns.length) {
          messages.prepend(h("details", { id: "chat-history" }, h("summary", {}, `Earlier (${turns.length} messages)`),
            h("ul", { class: "plain" }, turns.map((t) => h("li", {}, h("strong", {}, `${t.role}: `), t.text)))));
        }
      }).catch(() => {
        // No estate yet: history starts with the first question.
      });
    },
  };
}
