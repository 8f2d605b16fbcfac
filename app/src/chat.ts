// The Chat view: prompt → identified resources → plan card → approval → live run → outcome.
import { h, replace } from "./dom";
import type { View } from "./main";

export function chatView(root: HTMLElement): View {
  const prompt = h("textarea", { id: "chat-prompt", rows: 2, cols: 70, "data-autofocus": true, placeholder: "stop the pg-instance-main1 database" });
  replace(root,
    h("h2", {}, "Chat"),
    h("div", { class: "messages", id: "chat-messages" }),
    h("div", { class: "row" }, h("label", { for: "chat-prompt" }, "Ask"), prompt));
  return { show() {} };
}
