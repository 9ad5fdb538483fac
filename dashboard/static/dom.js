// Small DOM helpers. Text always goes in through textContent, never innerHTML, so values
// from the API (nicknames, message bodies, URLs) cannot inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function applyProps(node, props) {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") {
      node.textContent = String(value);
    } else if (name === "class") {
      node.setAttribute("class", value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "on") {
      for (const [type, listener] of Object.entries(value)) node.addEventListener(type, listener);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Create an HTML element: props are attributes plus text, class, dataset and on (listeners). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  return append(node, children);
}

/** Create an SVG element with the same props as el(). */
export function svg(tag, props = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyProps(node, props);
  return append(node, children);
}

/** Replace every child of `node` with `children`. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** Return the element with this id, or throw when the page markup lacks it. */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no element #${id}`);
  return node;
}
