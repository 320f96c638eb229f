// mailbot console: a thin page over the console API. No rules here: the server decides,
// the page sends what the user did and shows what comes back (server-rendered, escaped HTML).
"use strict";

const I18N = {
  zh: {chat: "聊天", mailboxes: "邮箱", outbox: "发送记录", audit: "审计日志", conversation: "会话",
    conv_admin: "单聊 · 管理员", conv_member: "单聊 · 成员", conv_group: "群聊", speak_as: "发言身份",
    admin: "管理员", member: "成员", message: "消息", message_ph: "输入消息，例如：帮助", secret_ph: "输入密码/授权码（不会显示）",
    send: "发送", refresh: "刷新", name: "名称", type: "类型", account: "账号", state: "状态", last_check: "上次检查",
    actions: "操作", created: "时间", mailbox: "邮箱", to: "收件人", subject: "主题", status: "状态", attempts: "尝试次数",
    last_error: "最后错误", time: "时间", actor: "操作人", action: "动作", target: "对象", result: "结果", changes: "变更",
    test: "测试", enable: "启用", disable: "停用", make_default: "设为默认", delete: "删除", confirm_delete: "确认删除",
    cancel: "取消", retry: "重试", enabled: "已启用", disabled: "已停用", default: "默认",
    ok: "成功", failed: "失败", relay_off: "中继未运行：发送记录不可用。", no_mailboxes: "还没有邮箱。",
    no_mail: "还没有邮件。", live: "实时更新中", confirm_q: "确定删除“{name}”？", deleted: "已删除 {name}",
    test_ok: "{name} 登录成功", error: "出错了", you: "你", prev: "上一页", next: "下一页", page: "第 {n} 页",
    no_audit: "还没有审计记录。", network_error: "无法连接到 mailbot，请检查它是否在运行。",
    http_error: "服务器返回 HTTP {status}", status_queued: "排队中", status_sending: "发送中",
    status_retrying: "等待重试", status_sent: "已发送", status_failed: "发送失败",
    add_mailbox: "添加邮箱", server_opts: "SMTP 服务器（仅在需要改用其他服务器时填写）", host: "SMTP 服务器", port: "端口",
    security: "加密方式", sec_default: "按类型默认", sec_none: "不加密", password: "密码/授权码",
    save_password: "用密码保存", detect_type: "（按域名识别）", signin_with: "用 {issuer} 账号登录",
    microsoft: "Microsoft", google: "Google", saved_pw: "已保存邮箱“{name}”，登录验证通过。",
    signin_title: "登录：{name}", signin_title_again: "重新登录：{name}",
    device_open: "1. 打开 ", device_code: "2. 输入代码 ", signin_as: "3. 以 {account} 登录并允许访问。",
    google_open: "用 Google 账号登录（新标签页）",
    paste_hint: "以 {account} 登录并允许后，浏览器会回到控制台，mailbot 自动完成。若那一页打不开（例如通过隧道访问控制台），把浏览器地址栏里的完整地址粘贴到这里：",
    paste_label: "跳转后的地址（或 code）", finish: "完成登录", waiting: "等待登录…", close: "关闭",
    saved_new: "已保存邮箱“{name}”（{account}）：已用 OAuth2 登录，登录验证通过。",
    saved_again: "“{name}”已重新登录，登录验证通过；等待中的邮件会继续发送。",
    sign_in_again: "重新登录", oauth2: "OAuth2", needs_reauth: "需要重新登录",
    rules: "通知规则", add_rule: "添加规则", save_rule: "保存规则", process_code: "审批流程编码", when: "时机",
    on: "时机", on_finish: "审批结束（finish）", on_start: "发起审批（start）", on_terminate: "撤销/终止（terminate）",
    result_only: "审批结果（仅审批结束时）", result_any: "任何结果", result_agree: "通过（agree）",
    result_refuse: "拒绝（refuse）", template: "邮件模板", recipients: "收件人",
    process_hint: "审批模板的 processCode：审批后台里该模板 URL 中的 PROC-…",
    to_hint: "originator（发起人）和/或邮件地址，逗号分隔",
    rules_intro: "钉钉审批事件发生时，按规则用指定邮箱和模板发邮件。事件订阅和权限见 README“Approval events → mail”。",
    no_rules: "还没有通知规则。", rule_saved: "已添加规则“{name}”。", rule_invalid: "规则没有保存，请按提示修改。",
    health: "健康", quota_col: "今日 / 每日上限", health_healthy: "正常", health_unhealthy: "异常",
    health_unchecked: "未检查", health_disabled: "已停用", fix: "解决", sent_at: "上次发信",
    never_at: "从未", check_failed: "（失败）", estimate: "（估计值）", no_limit: "（不限）",
    quota_own: "已单独设置", quota_provider: "服务商默认", set_quota: "设置上限", daily_quota: "每日上限（封）",
    save: "保存", provider_default: "恢复默认", eg: "，例如：", guide: "指引",
    quota_set: "“{name}”每天最多发 {n} 封。", quota_back: "“{name}”恢复服务商默认：每天最多 {n} 封{note}。",
    quota_none: "“{name}”恢复服务商默认：每日发信不限量。"},
  en: {chat: "Chat", mailboxes: "Mailboxes", outbox: "Outbox", audit: "Audit", conversation: "Conversation",
    conv_admin: "Single chat · admin", conv_member: "Single chat · member", conv_group: "Group chat",
    speak_as: "Speak as", admin: "admin", member: "member", message: "Message", message_ph: "Type a message, e.g. help",
    secret_ph: "Type the password / app password (not shown)", send: "Send", refresh: "Refresh", name: "Name",
    type: "Type", account: "Account", state: "State", last_check: "Last check", actions: "Actions", created: "Created",
    mailbox: "Mailbox", to: "To", subject: "Subject", status: "Status", attempts: "Attempts", last_error: "Last error",
    time: "Time", actor: "Who", action: "Action", target: "Target", result: "Result", changes: "Changes", test: "Test",
    enable: "Enable", disable: "Disable", make_default: "Make default", delete: "Delete", confirm_delete: "Confirm delete",
    cancel: "Cancel", retry: "Retry", enabled: "enabled", disabled: "disabled", default: "default",
    ok: "ok", failed: "failed", relay_off: "relay not running: the outbox is not available.",
    no_mailboxes: "No mailboxes yet.", no_mail: "No mail yet.", live: "live", confirm_q: "Delete '{name}'?",
    deleted: "Deleted {name}", test_ok: "{name}: login works", error: "Error", you: "you", prev: "Previous",
    next: "Next", page: "Page {n}", no_audit: "No audit entries yet.",
    network_error: "Cannot reach mailbot: check that it is running.", http_error: "The server answered HTTP {status}",
    status_queued: "queued", status_sending: "sending", status_retrying: "retrying", status_sent: "sent",
    status_failed: "failed", add_mailbox: "Add mailbox", server_opts: "SMTP server (only to use another than the type's)",
    host: "SMTP host", port: "Port", security: "Security", sec_default: "type's default", sec_none: "none",
    password: "Password / app password", save_password: "Save with password", detect_type: "(detect from the domain)",
    signin_with: "Sign in with {issuer}", microsoft: "Microsoft", google: "Google",
    saved_pw: "Saved mailbox '{name}', login check passed.", signin_title: "Sign in: {name}",
    signin_title_again: "Sign in again: {name}", device_open: "1. Open ", device_code: "2. Enter the code ",
    signin_as: "3. Sign in as {account} and accept.", google_open: "Sign in with Google (new tab)",
    paste_hint: "Sign in as {account} and allow access; the browser comes back to the console and mailbot finishes by "
      + "itself. If that page does not open (e.g. the console is reached through a tunnel), paste the whole address "
      + "from the browser's address bar here:",
    paste_label: "Address the browser was sent to (or the code)", finish: "Finish sign-in",
    waiting: "Waiting for the sign-in…", close: "Close",
    saved_new: "Saved mailbox '{name}' ({account}): signed in with OAuth2, login check passed.",
    saved_again: "'{name}' is signed in again, login check passed; its waiting mail goes out.",
    sign_in_again: "Sign in again", oauth2: "OAuth2", needs_reauth: "needs sign-in",
    rules: "Rules", add_rule: "Add rule", save_rule: "Save rule", process_code: "Process code", when: "When",
    on: "When", on_finish: "approval finished (finish)", on_start: "approval started (start)",
    on_terminate: "approval terminated (terminate)", result_only: "Result (finish only)", result_any: "any result",
    result_agree: "approved (agree)", result_refuse: "refused (refuse)", template: "Mail template",
    recipients: "Recipients", process_hint: "The approval form's processCode: the PROC-… in its URL in the approval admin",
    to_hint: "originator (the applicant) and/or e-mail addresses, comma-separated",
    rules_intro: "When a DingTalk approval event happens, a rule sends mail from its mailbox with its template. "
      + "The event subscription and permissions: README, 'Approval events → mail'.",
    no_rules: "No notification rules yet.", rule_saved: "Added rule '{name}'.",
    rule_invalid: "The rule was not saved: see the fields.",
    health: "Health", quota_col: "Today / daily quota", health_healthy: "healthy", health_unhealthy: "unhealthy",
    health_unchecked: "unchecked", health_disabled: "disabled", fix: "Fix", sent_at: "Last sent", never_at: "never", check_failed: " (failed)", estimate: " (estimate)",
    no_limit: " (no limit)", quota_own: "set for this mailbox", quota_provider: "provider's default",
    set_quota: "Set quota", daily_quota: "Mails a day", save: "Save", provider_default: "Provider default",
    eg: ", e.g. ", guide: "Guide", quota_set: "'{name}' sends at most {n} mails a day.",
    quota_back: "'{name}' is back to the provider's default: at most {n} mails a day{note}.",
    quota_none: "'{name}' is back to the provider's default: no daily quota."},
};

const state = {csrf: "", personas: {}, types: [], signin: null, detected: null,
  lang: localStorage.getItem("mailbot.lang") || "zh",
  view: "chat", conversation: "admin", persona: "admin", secretNext: false, events: null, lastEntry: 0,
  audit: {cursors: [null], next: null}};  // audit paging: the `before` cursor of each page shown so far
const $ = (sel, root = document) => root.querySelector(sel);
const t = (key, vars = {}) => (I18N[state.lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
const when = (iso) => new Date(iso).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

async function api(method, path, body) {
  const headers = {"X-Console-Lang": state.lang};
  if (method !== "GET") Object.assign(headers, {"Content-Type": "application/json", "X-CSRF-Token": state.csrf});
  let response;
  try {
    response = await fetch(path, {method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)});
  } catch { throw new Error(t("network_error")); }  // the browser's own text would be English
  if (response.status === 401) { location.href = "login"; throw new Error("login"); }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(data.message || t("http_error", {status: response.status})),
      {status: response.status, fields: data.fields || []});
  }
  return data;
}

// ---- i18n -------------------------------------------------------------------------------

function applyLang() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("#message").placeholder = t(state.secretNext ? "secret_ph" : "message_ph");
  $("#lang").textContent = state.lang === "zh" ? "EN" : "中文";
  fillTypes();
  if (state.view !== "chat") show(state.view);
}

// ---- chat -------------------------------------------------------------------------------

function entryNode(entry) {
  const mine = entry.from === "user";
  const who = mine ? `${t("you")} · ${t(entry.persona)}` : "mailbot";
  const body = el("div", {class: entry.kind === "card" ? "card-wrap" : "bubble"});
  body.innerHTML = entry.html;  // server-rendered and escaped
  const item = el("li", {class: `msg ${mine ? "mine" : "bot"}`}, el("span", {class: "who", text: who}), body);
  if (entry.kind === "card") item.id = `card-${entry.card_id}`;
  return item;
}

function showEntries(entries) {
  const list = $("#transcript");
  for (const entry of entries) {
    if (entry.id !== undefined) {
      if (entry.id <= state.lastEntry) continue;  // already shown (the poll below and a reply can overlap)
      state.lastEntry = entry.id;
    }
    if (entry.kind === "card_update") {
      const old = document.getElementById(`card-${entry.card_id}`);
      if (old) { old.querySelector(".card-wrap").innerHTML = entry.html; continue; }
    }
    list.append(entryNode(entry));
  }
  list.lastElementChild?.scrollIntoView({block: "end"});
}

function note(text) {
  $("#transcript").append(el("li", {class: "msg note", role: "alert"}, el("div", {class: "bubble", text})));
}

async function loadChat() {
  $("#persona-box").hidden = state.conversation !== "group";
  $("#transcript").replaceChildren();
  state.lastEntry = 0;
  setSecret(false);
  showEntries((await api("GET", `api/chat/${state.conversation}`)).entries);
}

function speaker() { return state.conversation === "group" ? state.persona : state.conversation; }

function setSecret(on) {
  state.secretNext = on;
  const input = $("#message");
  input.type = on ? "password" : "text";
  input.autocomplete = on ? "new-password" : "off";
  input.placeholder = t(on ? "secret_ph" : "message_ph");
}

async function send(event) {
  event.preventDefault();
  const input = $("#message");
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  try {
    const data = await api("POST", `api/chat/${state.conversation}`, {persona: speaker(), text});
    setSecret(Boolean(data.expects_secret));
    showEntries(data.entries);
  } catch (err) { note(`${t("error")}: ${err.message}`); }
  input.focus();
}

function formValues(form) {
  const values = {};
  for (const field of form.elements) {
    if (!field.name) continue;
    if (field.dataset.kind === "select") {
      if (field.value) values[field.name] = {index: field.selectedIndex - 1, value: field.value};
    } else if (field.value !== "") values[field.name] = field.value;
  }
  return values;
}

async function cardAction(cardItem, action, params) {
  const payload = {outTrackId: cardItem.id.slice("card-".length), userId: state.personas[speaker()],
    content: JSON.stringify({cardPrivateData: {actionIds: action ? [action] : [], params}})};
  try {
    showEntries((await api("POST", "api/cards/callback", payload)).entries);
  } catch (err) { note(`${t("error")}: ${err.message}`); }
}

function onCardClick(event) {
  const button = event.target.closest("button[data-action]");
  const card = event.target.closest("li[id^='card-']");
  if (!button || !card) return;
  cardAction(card, button.dataset.action, JSON.parse(button.dataset.params || "{}"));
}

function onCardSubmit(event) {
  const form = event.target.closest("form.card-form");
  const card = event.target.closest("li[id^='card-']");
  if (!form || !card) return;
  event.preventDefault();
  const params = {...JSON.parse(form.dataset.params || "{}"), form: formValues(form)};
  for (const secret of form.querySelectorAll("input[type=password]")) secret.value = "";
  cardAction(card, form.dataset.action, params);
}

// A status mark drawn by the stylesheet (no emoji font needed), then its word.
function marked(ok) {
  return el("span", {class: "nowrap"}, el("span", {class: `mark ${ok ? "ok" : "bad"}`, "aria-hidden": "true"}),
    ` ${t(ok ? "ok" : "failed")}`);
}

// ---- mailboxes --------------------------------------------------------------------------

function mailboxActions(m, cell) {
  const act = (action) => async () => {
    try {
      const res = await api("POST", `api/mailboxes/${encodeURIComponent(m.name)}/${action}`);
      $("#mb-status").textContent = res.ok ? (action === "test" ? t("test_ok", {name: m.name}) : "")
        : `${m.name}: ${res.message}`;
    } catch (err) { $("#mb-status").textContent = `${t("error")}: ${err.message}`; }
    await loadMailboxes();
  };
  const askDelete = () => {
    const confirm = el("button", {type: "button", class: "btn danger", text: t("confirm_delete"), onclick: async () => {
      try {
        await api("DELETE", `api/mailboxes/${encodeURIComponent(m.name)}`);
        $("#mb-status").textContent = t("deleted", {name: m.name});
      } catch (err) { $("#mb-status").textContent = `${t("error")}: ${err.message}`; }
      await loadMailboxes();
    }});
    const cancel = el("button", {type: "button", class: "btn", text: t("cancel"), onclick: () => loadMailboxes()});
    cell.replaceChildren(el("span", {class: "confirm", text: t("confirm_q", {name: m.name})}), confirm, cancel);
    confirm.focus();
  };
  cell.replaceChildren(...[
    el("button", {type: "button", class: "btn", text: t("test"), onclick: act("test")}),
    el("button", {type: "button", class: "btn", text: t(m.enabled ? "disable" : "enable"),
      onclick: act(m.enabled ? "disable" : "enable")}),
    m.default ? null : el("button", {type: "button", class: "btn", text: t("make_default"), onclick: act("default")}),
    m.auth === "oauth2" ? el("button", {type: "button", class: `btn${m.auth_state === "needs_reauth" ? " primary" : ""}`,
      "data-reauth": m.name, text: t("sign_in_again"), onclick: () => startSignIn({reauth: m.name}, m.name, true)}) : null,
    el("button", {type: "button", class: "btn danger", text: t("delete"), onclick: askDelete}),
  ].filter(Boolean));  // replaceChildren(null) would show the text "null"
}

// Health as the server's HealthService gives it: state, the reason and its fix, when last checked (the periodic
// check or a login test) and last sent. A failed login test's own message shows when the reason does not say it.
const HEALTH_MARK = {healthy: "mark ok", unhealthy: "mark bad", unchecked: "mark", disabled: "mark"};

function healthCell(m) {
  const h = m.health;
  if (!h) return el("td", {class: "health"});
  const at = (iso) => (iso ? when(iso) : t("never_at"));
  const colon = state.lang === "zh" ? "：" : ": ";
  const reason = h.reason ? el("div", {class: "reason", "data-code": h.reason.code},
    el("div", {class: "detail", text: h.reason.message}),
    h.reason.fix ? el("div", {class: "fix", text: `${t("fix")}${colon}${h.reason.fix}`}) : null,
    guideBox(m.name, h.guide)) : null;
  const check = m.last_check;
  const testFailed = check && !check.ok && h.check_ok === false && check.code !== h.reason?.code
    && Date.parse(check.at) >= Date.parse(h.checked_at)  // the newest check is this test
    ? el("div", {class: "detail test-failed", "data-code": check.code || "", title: check.message || "",
      text: (check.message || check.code || "").split("\n")[0]}) : null;
  return el("td", {class: "health", "data-state": h.state}, el("div", {},  // one child: a phone's row is a flex line
    el("div", {class: "state-line"}, el("span", {class: "nowrap"},
      el("span", {class: HEALTH_MARK[h.state], "aria-hidden": "true"}), ` ${t(`health_${h.state}`)}`)),
    reason,
    el("div", {class: "times"},
      el("div", {class: "nowrap checked"}, `${t("last_check")}${colon}${at(h.checked_at)}`,
        h.checked_at && h.check_ok === false ? t("check_failed") : ""),
      testFailed,
      el("div", {class: "nowrap sent"}, `${t("sent_at")}${colon}${at(h.last_sent_at)}`))));
}

// The type's guide that a login failure's fix points to ("see the guide below"), folded: it is four long lines.
// Open ones stay open when the list is drawn again (after an action, or in the other language).
const openGuides = new Set();

function guideBox(name, guide) {
  if (!guide?.length) return null;
  const box = el("details", {class: "guide-box", ontoggle: () => {
    if (box.open) openGuides.add(name); else openGuides.delete(name);
  }}, el("summary", {text: t("guide")}), el("ol", {class: "guide"}, ...guide.map((line) => el("li", {text: line}))));
  box.open = openGuides.has(name);
  return box;
}

// Sent today against the daily quota ("3 / 500 (estimate)"), and a way to set the quota.
function quotaCell(m, cell) {
  const h = m.health;
  if (!h) return;
  const q = h.quota;
  cell.dataset.source = q ? q.source : "none";
  cell.dataset.estimated = String(Boolean(q?.estimated));
  cell.replaceChildren(el("div", {},
    el("div", {class: "nowrap today"}, q ? `${h.sent_today} / ${q.per_day}` : String(h.sent_today),
      q?.estimated ? el("span", {class: "estimate", text: t("estimate")}) : null,
      q ? null : el("span", {class: "estimate", text: t("no_limit")})),
    el("div", {class: "hint", text: t(q?.source === "mailbox" ? "quota_own" : "quota_provider")}),
    el("button", {type: "button", class: "btn", text: t("set_quota"), onclick: () => editQuota(m, cell)})));
}

function quotaSaved(m) {
  const q = m.health?.quota;
  if (!q) return t("quota_none", {name: m.name});
  if (q.source === "mailbox") return t("quota_set", {name: m.name, n: q.per_day});
  return t("quota_back", {name: m.name, n: q.per_day, note: q.estimated ? t("estimate") : ""});
}

let quotaForms = 0;

// The quota as the admin types it; the server checks it (a number in its range, or "default").
function editQuota(m, cell) {
  const id = `quota-input-${++quotaForms}`;
  const input = el("input", {id, name: "quota_per_day", inputmode: "numeric", autocomplete: "off", size: "8",
    value: m.quota_per_day ?? "", placeholder: m.health?.quota ? String(m.health.quota.per_day) : "",
    "aria-describedby": `${id}-error`});
  const error = el("p", {id: `${id}-error`, class: "field-error", role: "alert"});
  const save = async (value) => {
    try {
      const res = await api("POST", `api/mailboxes/${encodeURIComponent(m.name)}/quota`, {quota_per_day: value});
      $("#mb-status").textContent = quotaSaved(res.mailbox);
      await loadMailboxes();
    } catch (err) {
      const field = (err.fields || []).find((f) => f.field === "quota_per_day");
      error.textContent = field ? (field.example ? `${field.problem}${t("eg")}${field.example}` : field.problem)
        : `${t("error")}: ${err.message}`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  };
  const form = el("form", {class: "quota-form", novalidate: "",
    onsubmit: (event) => { event.preventDefault(); save(input.value.trim()); }},
    el("label", {for: id, text: t("daily_quota")}), input, error,
    el("div", {class: "quota-actions"},
      el("button", {type: "submit", class: "btn primary", text: t("save")}),
      el("button", {type: "button", class: "btn", text: t("provider_default"), onclick: () => save("default")}),
      el("button", {type: "button", class: "btn", text: t("cancel"), onclick: () => quotaCell(m, cell)})));
  cell.replaceChildren(form);
  input.focus();
}

async function loadMailboxes() {
  const {mailboxes} = await api("GET", "api/mailboxes");
  const rows = mailboxes.map((m) => {
    const actions = el("td", {class: "actions"});
    mailboxActions(m, actions);
    const quota = el("td", {class: "quota"});
    quotaCell(m, quota);
    return el("tr", {"data-name": m.name},
      el("td", {}, el("strong", {text: m.name}), m.default ? el("span", {class: "badge", text: t("default")}) : null),
      el("td", {class: "nowrap", "data-type": m.type, text: m.type_name}), el("td", {class: "addr", text: m.account}),
      el("td", {class: "nowrap state", "data-enabled": String(m.enabled), "data-auth": m.auth,
        "data-auth-state": m.auth_state}, t(m.enabled ? "enabled" : "disabled"), authNote(m)),
      healthCell(m), quota, actions);
  });
  $("#mb-table tbody").replaceChildren(...rows);
  labelCells("#mb-table");
  const status = $("#mb-status");
  if (!mailboxes.length) status.textContent = t("no_mailboxes");
  else if (status.textContent === t("no_mailboxes")) status.textContent = "";
}

// How the mailbox logs in, when it is OAuth2: a sign-in refused by the issuer shows as a warning.
function authNote(m) {
  if (m.auth !== "oauth2") return null;
  if (m.auth_state !== "needs_reauth") return el("span", {class: "badge auth", text: t("oauth2")});
  return el("div", {class: "auth needs", title: m.auth_reason || ""},
    el("span", {class: "mark warn", "aria-hidden": "true"}), ` ${t("needs_reauth")}`);
}

// ---- adding a mailbox: a password, or a sign-in with Microsoft / Google ----------------

const typeInfo = (key) => state.types.find((x) => x.type === key);

function fillTypes() {
  const select = $("#add-type");
  const chosen = select.value;
  select.replaceChildren(el("option", {value: "", text: t("detect_type")}),
    ...state.types.map((x) => el("option", {value: x.type, text: x.name[state.lang]})));
  select.value = chosen;
  addFormMode();
}

// Outlook.com: only the sign-in; Microsoft 365 and Gmail: both; the others: the password.
function addFormMode() {
  const info = typeInfo($("#add-type").value);
  const button = $("#add-signin");
  button.hidden = !info?.oauth;
  if (info?.oauth) button.textContent = t("signin_with", {issuer: t(info.oauth)});
  const password = !info || info.password;
  $("#add-password-box").hidden = !password;
  $("#add-save").hidden = !password;
}

// The type left at "detect from the domain" (or as detection set it): ask the server once the account is
// entered, and preselect what it proposes with the reason under the field. A type the admin picks stands.
async function detectType() {
  const account = $("#add-account").value.trim();
  const select = $("#add-type");
  if (select.value && state.detected === null) return;
  if (account === state.detected?.account) return;
  state.detected = null;
  select.value = "";
  $("#add-type-reason").textContent = "";
  addFormMode();
  if (!account.includes("@")) return;
  let res;
  try {
    res = await api("GET", `api/detect?account=${encodeURIComponent(account)}`);
  } catch { return; }  // no proposal: the admin chooses
  if ($("#add-account").value.trim() !== account || select.value) return;  // typed on, or chose meanwhile
  if (!res.detection) return;
  state.detected = {account, type: res.detection.type};
  select.value = res.detection.type;
  $("#add-type-reason").textContent = res.detection.reason;
  addFormMode();
}

function typeChosen() {
  state.detected = null;
  $("#add-type-reason").textContent = "";
  addFormMode();
}

function toggleAdd(open) {
  $("#mb-add").hidden = !open;
  $("#mb-add-open").setAttribute("aria-expanded", String(open));
  if (open) $("#add-name").focus();
}

function addFields() {
  const values = {};
  for (const name of ["name", "account", "type", "host", "port", "security"]) {
    const value = $(`#mb-add [name=${name}]`).value.trim();
    if (value) values[name] = value;
  }
  return values;
}

// A failure as the server words it: cause and fix, then the type's guide when it has one.
function problem(node, res) {
  const guide = res.guide?.length ? [el("ol", {class: "guide"}, ...res.guide.map((line) => el("li", {text: line})))] : [];
  node.replaceChildren(el("div", {class: "problem", "data-code": res.error || "", text: res.message}), ...guide);
}

async function savePassword(event) {
  event.preventDefault();
  const password = $("#add-password");
  const body = {...addFields(), password: password.value};
  password.value = "";
  const status = $("#mb-status");
  try {
    const res = await api("POST", "api/mailboxes", body);
    if (res.ok) {
      $("#mb-add").reset();
      typeChosen();
      toggleAdd(false);
      status.textContent = t("saved_pw", {name: res.mailbox.name});
    } else problem(status, res);
  } catch (err) { status.textContent = `${t("error")}: ${err.message}`; }
  await loadMailboxes();
}

async function startSignIn(body, name, again) {
  await endSignIn();
  try {
    const res = await api("POST", "api/signins", body);
    state.signin = {id: res.id, again, name};
    showSignIn(res.signin, name, again);
    pollSignIn(res.id);
  } catch (err) { $("#mb-status").textContent = `${t("error")}: ${err.message}`; }
}

function showSignIn(view, name, again) {
  const box = $("#signin");
  box.hidden = false;
  box.dataset.state = "waiting";
  box.dataset.flow = view.flow;
  $("#signin-title").textContent = t(again ? "signin_title_again" : "signin_title", {name});
  const link = (href, text, css) => el("a", {href, text, class: css, target: "_blank", rel: "noopener noreferrer"});
  if (view.flow === "device") {
    $("#signin-body").replaceChildren(
      el("p", {}, t("device_open"), link(view.verification_uri, view.verification_uri, "signin-link")),
      el("p", {}, t("device_code"), el("code", {class: "user-code", text: view.user_code})),
      el("p", {text: t("signin_as", {account: view.account})}));
  } else {
    const input = el("input", {id: "signin-pasted", name: "pasted", autocomplete: "off"});
    $("#signin-body").replaceChildren(
      el("p", {}, link(view.url, t("google_open"), "btn primary signin-link")),
      el("p", {text: t("paste_hint", {account: view.account})}),
      el("form", {id: "signin-paste", class: "paste", onsubmit: pasteAddress},
        el("label", {for: "signin-pasted", text: t("paste_label")}), input,
        el("button", {type: "submit", class: "btn", text: t("finish")})));
  }
  $("#signin-status").textContent = t("waiting");
  $("#signin-guide").replaceChildren();
  $("#signin-close").textContent = t("cancel");
  box.scrollIntoView({block: "nearest"});
}

async function pollSignIn(id) {
  while (state.signin?.id === id) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (state.signin?.id !== id) return;
    try {
      const res = await api("GET", `api/signins/${encodeURIComponent(id)}`);
      if (res.state !== "waiting") signInEnded(id, res);
    } catch (err) {
      if (err.status === 404) signInEnded(id, {state: "failed", message: err.message});
    }
  }
}

async function pasteAddress(event) {
  event.preventDefault();
  const id = state.signin?.id;
  const input = $("#signin-pasted");
  if (!id || !input.value.trim()) return;
  try {
    const res = await api("POST", `api/signins/${encodeURIComponent(id)}/paste`, {pasted: input.value.trim()});
    input.value = "";
    if (res.state !== "waiting") signInEnded(id, res);
  } catch (err) { $("#signin-status").textContent = `${t("error")}: ${err.message}`; }
}

function signInEnded(id, res) {
  if (state.signin?.id !== id) return;
  const {again} = state.signin;
  state.signin = null;
  const box = $("#signin");
  box.dataset.state = res.state;
  $("#signin-body").replaceChildren();
  $("#signin-close").textContent = t("close");
  if (res.state === "saved") {
    $("#signin-status").textContent = t(again ? "saved_again" : "saved_new",
      {name: res.mailbox.name, account: res.mailbox.account});
    $("#mb-add").reset();
    toggleAdd(false);
    addFormMode();
  } else problem($("#signin-status"), res);
  loadMailboxes().catch(() => {});
}

// Close the panel; a sign-in still waiting is cancelled on the server too.
async function endSignIn() {
  const id = state.signin?.id;
  state.signin = null;
  $("#signin").hidden = true;
  if (id) await api("DELETE", `api/signins/${encodeURIComponent(id)}`).catch(() => {});
}

async function signInNew() {
  const fields = addFields();
  await startSignIn(fields, fields.name || "", false);
}

// On a phone-width window each row is drawn as a block; every cell carries its column's name.
function labelCells(selector) {
  const heads = [...document.querySelectorAll(`${selector} thead th`)].map((th) => th.textContent);
  for (const row of document.querySelectorAll(`${selector} tbody tr`)) {
    [...row.children].forEach((cell, i) => cell.setAttribute("data-label", heads[i] || ""));
  }
}

// ---- approval notification rules ------------------------------------------------------

const RULE_FIELDS = ["name", "process_code", "on", "result", "mailbox", "template", "to"];

// The rule's name goes in the body, not the path: a name may be "..", which no URL path can carry.
function ruleActions(r, cell) {
  const status = $("#ru-status");
  const toggle = el("button", {type: "button", class: "btn", text: t(r.enabled ? "disable" : "enable"), onclick: async () => {
    try { await api("POST", `api/rules/${r.enabled ? "disable" : "enable"}`, {name: r.name}); }
    catch (err) { status.textContent = `${t("error")}: ${err.message}`; }
    await loadRules();
  }});
  const askDelete = () => {
    const confirm = el("button", {type: "button", class: "btn danger", text: t("confirm_delete"), onclick: async () => {
      try {
        await api("POST", "api/rules/remove", {name: r.name});
        status.textContent = t("deleted", {name: r.name});
      } catch (err) { status.textContent = `${t("error")}: ${err.message}`; }
      await loadRules();
    }});
    const cancel = el("button", {type: "button", class: "btn", text: t("cancel"), onclick: () => loadRules()});
    cell.replaceChildren(el("span", {class: "confirm", text: t("confirm_q", {name: r.name})}), confirm, cancel);
    confirm.focus();
  };
  cell.replaceChildren(toggle, el("button", {type: "button", class: "btn danger", text: t("delete"), onclick: askDelete}));
}

async function loadRules() {
  const data = await api("GET", "api/rules");
  const options = (id, names) => $(id).replaceChildren(...names.map((name) => el("option", {value: name})));
  options("#rule-mailboxes", data.mailboxes);
  options("#rule-templates", data.templates);
  const rows = data.rules.map((r) => {
    const actions = el("td", {class: "actions"});
    ruleActions(r, actions);
    return el("tr", {"data-name": r.name},
      el("td", {class: "nowrap"}, el("strong", {text: r.name})), el("td", {class: "addr", text: r.process_code}),
      el("td", {"data-when": r.result ? `${r.on}/${r.result}` : r.on, text: r.when_text}),
      el("td", {text: r.mailbox}), el("td", {text: r.template}), el("td", {class: "addr", text: r.to.join(", ")}),
      el("td", {class: "nowrap state", "data-enabled": String(r.enabled), text: t(r.enabled ? "enabled" : "disabled")}),
      actions);
  });
  $("#ru-table tbody").replaceChildren(...rows);
  labelCells("#ru-table");
  const status = $("#ru-status");
  if (!data.rules.length) status.textContent = t("no_rules");
  else if (status.textContent === t("no_rules")) status.textContent = "";
}

function toggleRuleAdd(open) {
  $("#ru-add").hidden = !open;
  $("#ru-add-open").setAttribute("aria-expanded", String(open));
  if (open) $("#rule-name").focus();
}

// Each problem under its field, as the server words it; the first bad field gets the focus.
function showRuleErrors(fields) {
  for (const name of RULE_FIELDS) {
    $(`#rule-${name}-error`).textContent = "";
    $(`#rule-${name}`).removeAttribute("aria-invalid");
  }
  for (const f of fields) {
    const node = $(`#rule-${f.field}-error`);
    if (!node) continue;
    node.textContent = f.example ? `${f.problem}${state.lang === "zh" ? "，例如：" : ", e.g. "}${f.example}` : f.problem;
    $(`#rule-${f.field}`).setAttribute("aria-invalid", "true");
  }
  const first = fields.find((f) => $(`#rule-${f.field}`));
  if (first) $(`#rule-${first.field}`).focus();
}

async function saveRule(event) {
  event.preventDefault();
  const body = {};
  for (const name of RULE_FIELDS) body[name] = $(`#rule-${name}`).value.trim();
  const status = $("#ru-status");
  try {
    const res = await api("POST", "api/rules", body);
    showRuleErrors([]);
    $("#ru-add").reset();
    toggleRuleAdd(false);
    await loadRules();
    status.textContent = t("rule_saved", {name: res.rule.name});
  } catch (err) {
    const known = (err.fields || []).filter((f) => RULE_FIELDS.includes(f.field));
    showRuleErrors(known);
    status.textContent = known.length ? t("rule_invalid") : `${t("error")}: ${err.message}`;
  }
}

// ---- outbox -----------------------------------------------------------------------------

function showOutbox(data) {
  $("#ob-status").textContent = data.running ? (data.mails.length ? t("live") : t("no_mail")) : t("relay_off");
  const rows = data.mails.map((m) => el("tr", {"data-id": m.id, "data-status": m.status},
    el("td", {class: "nowrap", text: when(m.created_at)}),
    el("td", {text: m.mailbox}), el("td", {class: "addr", text: m.to.join(", ")}),
    el("td", {class: "subject", text: m.subject}),
    el("td", {class: "nowrap"}, el("span", {class: `status-${m.status}`, text: t(`status_${m.status}`)})),
    el("td", {class: "nowrap", text: String(m.attempts)}),
    el("td", {class: "error-text", "data-code": m.error_code || "", text: m.error || ""}),
    el("td", {class: "actions"}, m.status === "failed" ? el("button", {type: "button", class: "btn", text: t("retry"),
      onclick: async () => {
        try { await api("POST", `api/outbox/${encodeURIComponent(m.id)}/retry`); }
        catch (err) { $("#ob-status").textContent = `${t("error")}: ${err.message}`; }
      }}) : null)));
  $("#ob-table tbody").replaceChildren(...rows);
  labelCells("#ob-table");
}

function watchOutbox(on) {
  if (state.events) { state.events.close(); state.events = null; }
  if (!on) return;
  state.events = new EventSource(`api/outbox/events?lang=${state.lang}`);  // errors in the page's language
  state.events.addEventListener("outbox", (e) => {
    const data = JSON.parse(e.data);
    showOutbox(data);
    if (!data.running) watchOutbox(false);
  });
}

// ---- audit ------------------------------------------------------------------------------

// A phone shows fewer entries a page: each one takes several lines there.
const auditPageSize = () => (matchMedia("(max-width: 600px)").matches ? 20 : 50);

// One line per changed field ("端口: 25 → 465"), as the server words it.
function changesList(lines) {
  return el("ul", {class: "changes"}, ...lines.map((line) => el("li", {"data-field": line.field},
    el("span", {class: "field", text: `${line.label}: `}), line.value)));
}

async function loadAudit() {
  const before = state.audit.cursors.at(-1);
  const query = new URLSearchParams({limit: String(auditPageSize()), ...(before ? {before: String(before)} : {})});
  const data = await api("GET", `api/audit?${query}`);
  state.audit.next = data.next;
  $("#au-table tbody").replaceChildren(...data.entries.map((e) => el("tr", {},
    el("td", {class: "at nowrap", text: when(e.at)}),
    el("td", {class: "actor", text: e.actor}),
    el("td", {class: "action nowrap", "data-action": e.action, text: e.action_text}),
    el("td", {class: "target", text: e.target}),
    el("td", {class: "result nowrap", "data-ok": String(e.ok)}, marked(e.ok)),
    el("td", {class: "changes-cell"}, changesList(e.change_lines)))));
  labelCells("#au-table");
  const first = state.audit.cursors.length === 1;
  $("#au-status").textContent = data.entries.length || !first ? "" : t("no_audit");
  $("#au-prev").disabled = first;
  $("#au-next").disabled = !data.next;
  $("#au-page").textContent = t("page", {n: state.audit.cursors.length});
}

async function turnAuditPage(step) {
  if (step > 0 && state.audit.next) state.audit.cursors.push(state.audit.next);
  if (step < 0 && state.audit.cursors.length > 1) state.audit.cursors.pop();
  if (step === 0) state.audit.cursors = [null];  // refresh: back to the newest entries
  $("#au-prev").disabled = $("#au-next").disabled = true;  // until this page is in: no double steps
  try { await loadAudit(); } catch (err) { $("#au-status").textContent = `${t("error")}: ${err.message}`; }
  if (step) $("#au-table").scrollIntoView({block: "start"});
}

// ---- views ------------------------------------------------------------------------------

async function show(view) {
  state.view = view;
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-pressed", String(tab.dataset.view === view));
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  watchOutbox(view === "outbox");
  try {
    if (view === "mailboxes") await loadMailboxes();
    if (view === "rules") await loadRules();
    if (view === "audit") await loadAudit();
  } catch (err) { $(`#view-${view} .status`)?.replaceChildren(`${t("error")}: ${err.message}`); }
}

async function main() {
  const session = await api("GET", "api/session");
  state.csrf = session.csrf;
  state.personas = session.personas;
  state.types = session.types;
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));
  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("mailbot.lang", state.lang);
    applyLang();
  });
  $("#conversation").addEventListener("change", (e) => { state.conversation = e.target.value; loadChat(); });
  $("#persona").addEventListener("change", (e) => { state.persona = e.target.value; });
  $("#composer").addEventListener("submit", send);
  $("#transcript").addEventListener("click", onCardClick);
  $("#transcript").addEventListener("submit", onCardSubmit);
  $("#mb-refresh").addEventListener("click", loadMailboxes);
  $("#mb-add-open").addEventListener("click", () => toggleAdd($("#mb-add").hidden));
  $("#add-type").addEventListener("change", typeChosen);
  $("#add-account").addEventListener("change", detectType);
  $("#mb-add").addEventListener("submit", savePassword);
  $("#add-signin").addEventListener("click", signInNew);
  $("#signin-close").addEventListener("click", endSignIn);
  $("#ru-refresh").addEventListener("click", loadRules);
  $("#ru-add-open").addEventListener("click", () => toggleRuleAdd($("#ru-add").hidden));
  $("#ru-add").addEventListener("submit", saveRule);
  $("#au-refresh").addEventListener("click", () => turnAuditPage(0));
  $("#au-prev").addEventListener("click", () => turnAuditPage(-1));
  $("#au-next").addEventListener("click", () => turnAuditPage(1));
  applyLang();
  await loadChat();
  // What the bot says unprompted (a chat sign-in that finished) shows up without a reload.
  setInterval(async () => {
    if (state.view !== "chat" || document.hidden) return;
    try { showEntries((await api("GET", `api/chat/${state.conversation}`)).entries); } catch { /* next time */ }
  }, 2000);
  if (location.hash === "#mailboxes") await show("mailboxes");  // back from a sign-in's result page
  document.body.dataset.ready = "true";
}

main();
