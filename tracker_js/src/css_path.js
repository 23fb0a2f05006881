// A short CSS path to an element: up to 4 levels of tag, id or first class; stops at an id.
export function cssPath(el, depth = 4) {
  const parts = [];
  for (let node = el; node && node.nodeType == 1 && parts.length < depth; node = node.parentElement) {
    let part = node.tagName.toLowerCase();
    if (node.id) {
      parts.unshift(part + "#" + node.id);
      break;
    }
    const cls = node.classList[0];
    parts.unshift(cls ? part + "." + cls : part);
  }
  return parts.join(">");
}
