// Whether we may send anything: Do-Not-Track and Global Privacy Control are honoured by default,
// and an explicit consent decision always wins over the site's default.
export function trackingAllowed({ consent, respectDnt, nav }) {
  if (consent === "denied" || consent === "pending") return false;
  if (consent === "granted") return true;
  if (respectDnt !== false && nav) {
    if (nav.globalPrivacyControl === true) return false;
    if (nav.doNotTrack === "1" || nav.doNotTrack === "yes" || nav.msDoNotTrack === "1") return false;
  }
  return true;
}
