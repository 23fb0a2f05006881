// One page view per distinct URL the visitor sees: pushState, replaceState (only when the URL
// changes), popstate and hashchange, without double counting.
import { on } from "./guard.js";

// The page's identity: a plain #anchor is the same page, a #/route (hash router) is not.
export const pageKey = (href, hashRouting) => {
  const u = new URL(href);
  return u.origin + u.pathname + u.search + (hashRouting && u.hash.startsWith("#/") ? u.hash : "");
};

// check(force) counts a page view when the key changed (or always, when forced).
export function watchNavigation(check) {
  for (const name of ["pushState", "replaceState"]) {
    const original = history[name];
    history[name] = function () {
      const result = original.apply(this, arguments);
      // After the router's own work (title, view) is done.
      setTimeout(() => check());
      return result;
    };
  }
  on("popstate", () => check());
  on("hashchange", () => check());
}
