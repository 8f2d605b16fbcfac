// The Plugins view: installed scanners with their grants (sensitive operations marked),
// trust state, drop-in installation of a built plugin folder, and the explicit trust step:
// the grant is shown and must be accepted before any of the plugin's code runs.
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { api, type PluginView } from "./api";
import { announce, h, message, replace } from "./dom";
import type { View } from "./main";

export function pluginsView(root: HTMLElement): View {
  const list = h("div", { id: "plugins-list", class: "chips", style: "flex-direction: column" });
  const path = h("input", { id: "plugin-path", size: 60, "data-autofocus": true, placeholder: "a built plugin folder (plugin.toml + component)" }) as HTMLInputElement;
  const note = h("p", { id: "plugins-note", role: "status" });
  const dialog = h("dialog", { id: "trust-dialog", "aria-labelledby": "trust-title" }) as HTMLDialogElement;

  replace(root,
    h("h2", {}, "Plugins"),
    h("p", { class: "muted" }, "Scanners run sandboxed: they can only call the AWS operations their grant lists, and only after you trust them as they are."),
    h("div", { class: "row" },
      h("label", { for: "plugin-path" }, "Install from folder"), path,
      h("button", { onclick: () => void install(path.value) }, "Install")),
    h("p", { class: "muted" }, "Or drop a plugin folder on this window."),
    note, list, dialog);

  function card(p: PluginView): HTMLElement {
    const sensitive = p.operations.filter((o) => o.sensitive);
    const trusted = p.trust === "trusted";
    return h("div", { class: "card", "data-plugin": p.name },
      h("div", { class: "row" },
        h("strong", {}, `${p.name} ${p.version}`),
        h("span", { class: `badge ${trusted ? "ok" : "warn"}` }, trusted ? "trusted" : p.trust === "unknown" ? "not trusted" : p.trust),
        sensitive.length ? h("span", { class: "badge sensitive" }, `${sensitive.length} sensitive`) : null,
        trusted ? null : h("button", { class: "primary", onclick: () => review(p) }, `Review and trust ${p.name}…`)),
      p.description ? h("span", {}, p.description) : null,
      h("span", { class: "muted" }, `services: ${p.services.join(", ")} · ${p.operations.length} operations · wit ${p.wit} · sha256 ${p.sha256.slice(0, 16)}…`),
      p.refused ? h("span", { class: "error" }, `cannot be granted: ${p.refused}`) : null,
      sensitive.length ? h("ul", {}, sensitive.map((o) => h("li", { class: "sensitive" }, `${o.name}: ${o.sensitive}`))) : null,
      h("details", {}, h("summary", {}, "Every operation it may call"),
        h("ul", { class: "plain" }, p.operations.map((o) => h("li", { class: o.sensitive ? "sensitive" : "" }, o.sensitive ? `SENSITIVE ${o.name}` : o.name)))));
  }

  function review(p: PluginView): void {
    const sensitive = p.operations.filter((o) => o.sensitive);
    replace(dialog,
      h("h2", { id: "trust-title" }, `Trust ${p.name} ${p.version}?`),
      h("dl", {},
        h("dt", {}, "folder"), h("dd", {}, p.dir),
        h("dt", {}, "component sha256"), h("dd", {}, p.sha256),
        h("dt", {}, "services"), h("dd", {}, p.services.join(", ")),
        h("dt", {}, "operations"), h("dd", {}, `${p.operations.length} read operations; no writes`)),
      sensitive.length
        ? h("div", {}, h("p", { class: "sensitive" }, "It may call sensitive operations:"),
            h("ul", {}, sensitive.map((o) => h("li", {}, `${o.name}: ${o.sensitive}`))))
        : h("p", {}, "No sensitive operations."),
      h("p", {}, "Trusting accepts these files as they are now; a changed file needs trusting again."),
      h("div", { class: "row" },
        h("button", { class: "primary", id: "trust-confirm", onclick: () => void trust(p.name) }, "Trust"),
        h("button", { onclick: () => dialog.close() }, "Cancel")));
    dialog.showModal();
    (dialog.querySelector("#trust-confirm") as HTMLElement).focus();
  }

  async function trust(name: string): Promise<void> {
    dialog.close();
    try {
      await api.trustPlugin(name);
      note.textContent = `${name} is trusted as it is now.`;
      note.className = "ok";
      announce(`${name} trusted`);
    } catch (e) {
      note.textContent = message(e);
      note.className = "error";
    }
    await refresh();
  }

  async function install(folder: string): Promise<void> {
    if (!folder.trim()) {
      note.textContent = "Type the path of a built plugin folder first.";
      note.className = "error";
      return;
    }
    try {
      const p = await api.installPlugin(folder);
      note.textContent = `Installed ${p.name}: review its grant and trust it to use it.`;
      note.className = "";
      await refresh();
      review(p);
    } catch (e) {
      note.textContent = message(e);
      note.className = "error";
    }
  }

  async function refresh(): Promise<void> {
    try {
      const plugins = await api.plugins();
      replace(list,
        plugins.plugins.length ? plugins.plugins.map(card) : h("p", { class: "muted" }, `No plugins in ${plugins.install_dir}: build them with \`cloudops plugin build plugins/\`, or install a built one above.`),
        plugins.broken.map((b) => h("p", { class: "error" }, `${b.dir}: ${b.error}`)));
    } catch (e) {
      replace(list, h("p", { class: "error" }, message(e)));
    }
  }

  // Drop-in installation: a folder dropped on the window is installed (untrusted) and reviewed.
  void getCurrentWebview().onDragDropEvent((event) => {
    if (event.payload.type === "drop" && event.payload.paths.length) {
      path.value = event.payload.paths[0];
      void install(path.value);
    }
  });

  return {
    show() {
      void refresh();
    },
  };
}
