// flowgraph playground as a notebook widget (anywidget): the page's own HTML, style and script
// (index.html, style.css, app.js, sent by the kernel as the widget's state: nothing is loaded
// from anywhere else), in a shadow root so that the page's style stays inside the widget. The
// page's requests travel as the widget's messages to the kernel, which answers them as the
// playground's server does (flowgraph/playground/routes.py).
let widgets = 0;

function connect(model) {
  const waiting = new Map();
  let next = 0;
  const onMessage = (msg) => {
    const done = msg && waiting.get(msg.rid);
    if (!done) return;
    waiting.delete(msg.rid);
    done(msg);
  };
  model.on("msg:custom", onMessage);
  // a Response as far as app.js uses one: ok, status, json(), text()
  const fetchOverMessages = (path, opts = {}) => new Promise((resolve) => {
    const rid = ++next;
    waiting.set(rid, (m) => resolve({
      ok: m.status >= 200 && m.status < 300,
      status: m.status,
      json: async () => JSON.parse(m.body),
      text: async () => m.body,
    }));
    model.send({ rid, method: opts.method || "GET", path, body: opts.body || "" });
  });
  return { fetchOverMessages, stop: () => model.off("msg:custom", onMessage) };
}

export default {
  async render({ model, el }) {
    const shadow = el.attachShadow ? el.attachShadow({ mode: "open" }) : el;
    const style = document.createElement("style");
    // the page's style, its document rules moved to the widget (and a cell narrower than the
    // page scrolls sideways)
    style.textContent = model.get("style").replace(":root", ":host").replace(/^body\b/m, ".fg-body")
      + "\n.fg-body { overflow-x: auto; }";
    const root = document.createElement("div");
    root.className = "fg-body";
    root.innerHTML = model.get("page");
    shadow.append(style, root);
    const link = connect(model);
    const host = {
      root: shadow,
      fetch: link.fetchOverMessages,
      query: "?" + model.get("query"),
      setQuery: () => {},  // a notebook has no address bar to keep the settings in
      keys: root,
      close: (id) => model.send({ rid: 0, method: "POST", path: `/api/s/${id}/close`, body: "{}" }),
      stopped: false,
    };
    const key = `flowgraph-${++widgets}-${Date.now()}`;
    globalThis.__flowgraphHosts = globalThis.__flowgraphHosts || new Map();
    globalThis.__flowgraphHosts.set(key, host);
    // app.js itself, as a module of its own for this widget: its host is this one
    const source = `const FLOWGRAPH_HOST = globalThis.__flowgraphHosts.get(${JSON.stringify(key)});\n`
      + model.get("app");
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    try {
      await import(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    return () => {  // the view is removed: stop polling, stop the training
      host.stopped = true;
      if (host.state && host.state.id) host.close(host.state.id);
      globalThis.__flowgraphHosts.delete(key);
      link.stop();
    };
  },
};
