// The window: five views behind tabs, all reachable from the keyboard (Alt+1..5, arrow keys
// on the tab bar), each built once and told when it is shown.
import { announce } from "./dom";
import { chatView } from "./chat";
import { explorerView } from "./explorer";
import { executionsView } from "./executions";
import { syncView } from "./sync";
import { pluginsView } from "./plugins";
import { api } from "./api";

export interface View {
  /** Called each time the view is shown. */
  show(): void;
}

const views: Record<string, View> = {};
const order = ["chat", "explorer", "executions", "sync", "plugins"];
const tabs = Array.from(document.querySelectorAll<HTMLButtonElement>('[role="tab"]'));

function panel(name: string): HTMLElement {
  return document.getElementById(`view-${name}`)!;
}

/** Shows a view; `focus` moves the keyboard focus into it. */
export function showView(name: string, focus = false): void {
  for (const tab of tabs) {
    const selected = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    panel(tab.dataset.view!).hidden = !selected;
  }
  views[name].show();
  if (focus) {
    const first = panel(name).querySelector<HTMLElement>("[data-autofocus]") ?? panel(name);
    first.focus();
  }
}

function init(): void {
  views.chat = chatView(panel("chat"));
  views.explorer = explorerView(panel("explorer"));
  views.executions = executionsView(panel("executions"));
  views.sync = syncView(panel("sync"));
  views.plugins = pluginsView(panel("plugins"));
  for (const tab of tabs) {
    tab.addEventListener("click", () => showView(tab.dataset.view!, true));
    tab.addEventListener("keydown", (e) => {
      const i = order.indexOf(tab.dataset.view!);
      const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (step) {
        const next = order[(i + step + order.length) % order.length];
        showView(next);
        tabs.find((t) => t.dataset.view === next)!.focus();
        e.preventDefault();
      }
    });
  }
  document.addEventListener("keydown", (e) => {
    if (e.altKey && e.key >= "1" && e.key <= "5") {
      showView(order[Number(e.key) - 1], true);
      e.preventDefault();
    }
  });
  // A first run (nothing synced) opens Sync, which offers the demo estate when AWS is not set up.
  api
    .appInfo()
    .then((info) => {
      announce(`data: ${info.data_dir}`);
      showView(info.synced ? "explorer" : "sync", true);
    })
    .catch(() => showView("sync", true));
}

init();
