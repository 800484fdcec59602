// app.js: the page. Routes: "/" the home page (guest sign-in with a display
// name or a pasted token, the caller's boards, create a board), "/b/{id}"
// a board (shareable URL; the node serves index.html for it). The board page
// wires the model (model.js), the connection (conn.js) and the editor
// (editor.js) to the toolbar, the style panel, the presence list, the
// connection indicator and the exports.
import * as api from "./api.js";
import { Board } from "./model.js";
import { Conn } from "./conn.js";
import { Editor } from "./editor.js";
import { exportSvg, exportPng, css, userColour } from "./render.js";

const $ = (sel, root = document) => root.querySelector(sel);
const h = (tag, attrs = {}, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (k === "class") n.className = v;
    else if (k === "style") n.style.cssText = v; // CSSOM: allowed by the node's CSP (style-src 'self')
    else n.setAttribute(k, v);
  }
  for (const k of kids) n.append(k);
  return n;
};

const COLOURS = [0x1e1e1eff, 0xe03131ff, 0x2f9e44ff, 0x1971c2ff, 0xf08c00ff, 0x9c36b5ff];
const FILLS = [0, 0xffc9c9ff, 0xb2f2bbff, 0xa5d8ffff, 0xffec99ff, 0xeebefaff];
const WIDTHS = [[100, "thin"], [200, "medium"], [400, "bold"]];
const FONTS = [[1600, "S"], [2400, "M"], [3600, "L"]];
const HELP = [["V", "select"], ["H / Space", "pan"], ["P", "pen"], ["R", "rectangle"], ["O", "ellipse"], ["L", "line"], ["A", "arrow"],
  ["T", "text"], ["S", "sticky note"], ["E", "eraser"], ["Delete", "delete"], ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo"],
  ["Ctrl+C / V / D", "copy / paste / duplicate"], ["Ctrl+A", "select all"], ["] / [", "forward / backward"],
  ["Ctrl+] / Ctrl+[", "to front / to back"], ["arrows", "nudge (Shift: 10 px)"], ["+ / - / 0 / Shift+1", "zoom in / out / reset / fit"], ["?", "this help"]];
const TOOL_LABELS = { select: ["Select", "V", "⬚"], hand: ["Hand (pan)", "H", "✥"], pen: ["Pen", "P", "✎"], rect: ["Rectangle", "R", "▭"],
  ellipse: ["Ellipse", "O", "◯"], line: ["Line", "L", "╱"], arrow: ["Arrow", "A", "➔"], text: ["Text", "T", "T"], sticky: ["Sticky note", "S", "▤"], eraser: ["Eraser", "E", "⌫"] };

function download(name, blob) {
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// ---- home -------------------------------------------------------------------------
async function home(app) {
  document.title = "Whiteboard";
  const auth = api.getAuth();
  app.replaceChildren();
  const main = h("main", { class: "home" }, h("h1", {}, "Whiteboard"));
  app.append(main);
  if (!auth) {
    const name = h("input", { id: "guest-name", placeholder: "Your name", maxlength: "64", autocomplete: "nickname" });
    const token = h("textarea", { id: "token-input", placeholder: "…or paste a token", rows: "2" });
    const msg = h("p", { class: "msg", id: "signin-msg" }, sessionStorage.getItem("wb.msg") || "");
    sessionStorage.removeItem("wb.msg");
    main.append(h("section", { class: "card" },
      h("h2", {}, "Sign in"),
      h("form", { id: "guest-form", onsubmit: async (e) => {
        e.preventDefault();
        try { await api.guestSignIn(name.value.trim() || "Guest"); route(); } catch (err) { msg.textContent = "Guest sign-in failed: " + err.message; }
      } }, name, h("button", { type: "submit", id: "guest-go" }, "Continue as guest")),
      h("form", { id: "token-form", onsubmit: (e) => {
        e.preventDefault();
        try { api.useToken(token.value); route(); } catch (err) { msg.textContent = "That is not a token: " + err.message; }
      } }, token, h("button", { type: "submit" }, "Use token")),
      msg));
    name.focus();
    return;
  }
  const list = h("ul", { class: "boards", id: "board-list" });
  const title = h("input", { id: "new-title", placeholder: "Board title", maxlength: "200" });
  const msg = h("p", { class: "msg" });
  main.append(h("section", { class: "card" },
    h("p", { class: "who" }, "Signed in as ", h("b", { id: "me" }, auth.name), " ",
      h("button", { class: "link", onclick: () => { api.signOut(); route(); } }, "sign out")),
    h("form", { id: "create-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const b = await api.createBoard(auth.token, title.value.trim() || "Untitled");
        go("/b/" + b.id);
      } catch (err) { msg.textContent = "Could not create the board: " + err.message; }
    } }, title, h("button", { type: "submit", id: "create-go" }, "New board")),
    msg, h("h2", {}, "Your boards"), list));
  try {
    const { boards } = await api.listBoards(auth.token);
    boards.sort((a, b) => b.updatedAt - a.updatedAt);
    if (!boards.length) list.append(h("li", { class: "empty" }, "No boards yet."));
    for (const b of boards) {
      list.append(h("li", {}, h("a", { href: "/b/" + b.id, onclick: (e) => { e.preventDefault(); go("/b/" + b.id); } }, b.title),
        h("span", { class: "meta" }, b.role + " · " + new Date(b.updatedAt).toLocaleString())));
    }
  } catch (err) {
    if (err.status === 401) { api.signOut(); route(); return; }
    msg.textContent = "Could not list boards: " + err.message;
  }
}

// ---- board --------------------------------------------------------------------------
let current = null;

function boardPage(app, id) {
  const auth = api.getAuth();
  if (!auth) {
    sessionStorage.setItem("wb.after", location.pathname);
    go("/");
    return;
  }
  app.replaceChildren();
  const model = new Board(id);
  const conn = new Conn({ token: auth.token, board: id, model });
  const stage = h("div", { class: "stage", id: "stage" });
  const toolbar = h("div", { class: "toolbar", id: "toolbar", role: "toolbar" });
  const style = h("div", { class: "stylebar", id: "stylebar" });
  const connEl = h("span", { class: "conn", id: "conn", "data-state": "connecting" }, "connecting");
  const peopleEl = h("ul", { class: "presence", id: "presence" });
  const roleEl = h("span", { class: "role", id: "role" });
  const titleEl = h("span", { class: "title", id: "board-title" }, id);
  const toast = h("div", { class: "toast", id: "toast" });
  const help = h("div", { class: "help", id: "help", onclick: () => help.classList.remove("on") },
    h("h3", {}, "Keyboard shortcuts"), h("dl", {}, ...HELP.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  const share = h("button", { id: "share", title: "Copy the board link", onclick: async () => {
    try { await navigator.clipboard.writeText(location.href); showToast("Link copied"); } catch (e) { showToast(location.href); }
  } }, "Share");
  const exportBtn = (fmt) => h("button", { id: "export-" + fmt, onclick: async () => {
    const els = editor.elements();
    if (fmt === "svg") download(id + ".svg", new Blob([exportSvg(els).text], { type: "image/svg+xml" }));
    else download(id + ".png", await exportPng(els));
  } }, fmt.toUpperCase());
  const top = h("header", { class: "topbar" },
    h("a", { href: "/", class: "home-link", onclick: (e) => { e.preventDefault(); go("/"); } }, "◧"),
    titleEl, roleEl, connEl, h("span", { class: "spacer" }), peopleEl, share, exportBtn("png"), exportBtn("svg"));
  app.append(top, stage, toolbar, style, toast, help);
  let toastTimer = 0;
  function showToast(t) { toast.textContent = t; toast.classList.add("on"); clearTimeout(toastTimer); toastTimer = setTimeout(() => toast.classList.remove("on"), 2500); }

  const editor = new Editor(stage, model, conn, {
    onTool: (t) => { for (const b of toolbar.querySelectorAll("button")) b.classList.toggle("on", b.dataset.tool === t); },
    onSelection: () => {},
    onHelp: (on) => help.classList.toggle("on", on),
  });
  for (const t of Object.keys(TOOL_LABELS)) {
    const [label, key, glyph] = TOOL_LABELS[t];
    toolbar.append(h("button", { "data-tool": t, title: label + " (" + key + ")", "aria-label": label, onclick: () => editor.setTool(t) }, glyph));
  }
  toolbar.append(h("span", { class: "sep" }),
    h("button", { id: "undo", title: "Undo (Ctrl+Z)", onclick: () => editor.undo() }, "↶"),
    h("button", { id: "redo", title: "Redo (Ctrl+Shift+Z)", onclick: () => editor.redo() }, "↷"),
    h("button", { id: "zoom-out", title: "Zoom out (-)", onclick: () => editor.zoomBy(1 / 1.2) }, "−"),
    h("button", { id: "zoom-in", title: "Zoom in (+)", onclick: () => editor.zoomBy(1.2) }, "+"),
    h("button", { id: "help-btn", title: "Keyboard shortcuts (?)", onclick: () => help.classList.toggle("on") }, "?"));
  const swatch = (c, kind) => h("button", { class: "swatch" + (c ? "" : " none"), "data-colour": c.toString(16), title: kind,
    style: "--c:" + css(c), onclick: () => { editor.applyStyle({ [kind]: c }); paintStyle(); } });
  style.append(h("span", {}, "Stroke"), ...COLOURS.map((c) => swatch(c, "strokeColor")),
    h("span", {}, "Fill"), ...FILLS.map((c) => swatch(c, "fillColor")),
    h("span", {}, "Width"), ...WIDTHS.map(([w, n]) => h("button", { class: "width", "data-width": w, title: n, onclick: () => { editor.applyStyle({ strokeWidth: w }); paintStyle(); } }, h("i", { style: "height:" + w / 100 + "px" }))),
    h("span", {}, "Text"), ...FONTS.map(([f, n]) => h("button", { class: "font", "data-font": f, title: "text size " + n, onclick: () => { editor.applyStyle({ fontSize: f }); paintStyle(); } }, n)));
  function paintStyle() {
    for (const b of style.querySelectorAll(".swatch")) b.classList.toggle("on", parseInt(b.dataset.colour, 16) === (b.title === "strokeColor" ? editor.style.strokeColor : editor.style.fillColor));
    for (const b of style.querySelectorAll(".width")) b.classList.toggle("on", Number(b.dataset.width) === editor.style.strokeWidth);
    for (const b of style.querySelectorAll(".font")) b.classList.toggle("on", Number(b.dataset.font) === editor.style.fontSize);
  }
  paintStyle();
  editor.setTool("select");

  const renderPeople = () => {
    const peers = conn.activePeers();
    const mine = conn.user ? css(userColour(conn.user)) : "#4263eb"; // as others see you
    const items = [h("li", { class: "me", title: "you", style: "--c:" + mine }, (auth.name || "me") + " (you)")];
    for (const p of peers) items.push(h("li", { style: "--c:" + css(p.colour), "data-user": p.user }, p.name));
    peopleEl.replaceChildren(...items);
  };
  conn.on.state = (s) => { connEl.dataset.state = s; connEl.textContent = s; };
  conn.on.welcome = (f) => {
    const ro = f.role < 2;
    editor.setReadonly(ro);
    document.body.classList.toggle("readonly", ro);
    roleEl.textContent = ["", "viewer", "editor", "owner"][f.role];
    renderPeople();
  };
  conn.on.presence = () => { renderPeople(); editor.schedule(); };
  conn.on.fatal = (why) => {
    if (why === "unauthorized") { // expired or revoked: sign in again, then come back
      api.signOut();
      sessionStorage.setItem("wb.after", location.pathname);
      sessionStorage.setItem("wb.msg", "Your sign-in is no longer valid: please sign in again.");
      go("/");
      return;
    }
    showToast(why === "not_found" ? "This board does not exist (or was deleted)." : why === "forbidden" ? "You have no access to this board." : "Connection refused: " + why);
  };
  conn.on.refused = (code) => showToast("The server refused a change: " + code);
  api.getBoard(auth.token, id).then((b) => { titleEl.textContent = b.title || id; document.title = (b.title || id) + " · Whiteboard"; }).catch(() => {});
  conn.start();
  const beat = setInterval(() => { editor.heartbeat(); renderPeople(); }, 1000);
  current = { conn, editor, stop: () => { clearInterval(beat); conn.stop(); editor.destroy(); } };
  window.__wb = { model, conn, editor };
}

// ---- routing ------------------------------------------------------------------------
function go(path) { history.pushState(null, "", path); route(); }

function route() {
  if (current) { current.stop(); current = null; }
  document.body.classList.remove("readonly");
  const app = $("#app");
  const m = /^\/b\/([A-Za-z0-9_-]{1,64})\/?$/.exec(location.pathname);
  if (m) { document.body.dataset.page = "board"; boardPage(app, m[1]); return; }
  const after = sessionStorage.getItem("wb.after");
  if (after && api.getAuth()) { sessionStorage.removeItem("wb.after"); go(after); return; }
  document.body.dataset.page = "home";
  home(app);
}

addEventListener("popstate", route);
route();
