// KerasStylesStepper's pages (anywidget ES module): each style's code and summary arrive once; choosing a
// style or a tab is answered here, without the kernel. The proof (compare outputs) comes from the kernel.
// (h comes from _common.js, which twd_lab.widgets._anywidget.esm puts before this module)

const TABS = [["code", "code"], ["summary", "summary"], ["proof", "same output?"]];

function render({ model, el }) {
  const root = h("div", { class: "twd-styles" });
  const bar = h("div", { class: "twd-row twd-tabs" });
  const page = h("div", { class: "twd-page" });
  root.append(bar, page);
  el.append(root);
  let tab = "code";
  const buttons = TABS.map(([key, label]) => {
    const b = h("button", { "data-tab": key }, label);
    b.onclick = () => { tab = key; draw(); };
    bar.append(b);
    return b;
  });

  function draw() {
    const style = model.get("styles")[model.get("index")], pages = model.get("pages")[style] || {};
    const html = tab === "proof" ? model.get("proof") : pages[tab];
    page.innerHTML = html || "<i>building the model…</i>";
    buttons.forEach((b) => b.classList.toggle("twd-active", b.dataset.tab === tab));
    root.dataset.style = style;
    root.dataset.tab = tab;
    root.dataset.drawnAt = String(performance.now());
  }
  for (const name of ["index", "styles", "pages", "proof"]) model.on(`change:${name}`, draw);
  draw();
}

export default { render };
