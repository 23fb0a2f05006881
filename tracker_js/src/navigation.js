// One page view per distinct URL the visitor sees: pushState, replaceState (only when the path
// changes), popstate, hashchange and back-forward-cache restores, without double counting.
export function pageKey(href, hashRouting) {
  const u = new URL(href);
  return u.origin + u.pathname + u.search + (hashRouting && u.hash.startsWith("#/") ? u.hash : "");
}

export function createNavigationTracker(onPage, hashRouting) {
  let last = null;
  return function check(force) {
    const key = pageKey(location.href, hashRouting);
    if (!force && key === last) return;
    last = key;
    onPage();
  };
}

export function watchNavigation(check) {
  for (const name of ["pushState", "replaceState"]) {
    const original = history[name];
    history[name] = function () {
      const result = original.apply(this, arguments);
      setTimeout(check, 0);
      return result;
    };
  }
  addEventListener("popstate", () => check());
  addEventListener("hashchange", () => check());
  addEventListener("pageshow", (e) => e.persisted && check(true));
}
