// Nothing the tracker does may throw into the host page: every entry point and listener goes through safe().
export const safe = (fn) =>
  function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {
      /* never break the page */
    }
  };

export const on = (type, fn, target = window, options = true) => target.addEventListener(type, safe(fn), options);
