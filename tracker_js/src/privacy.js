// Whether we may send anything: an explicit consent decision always wins ("granted" sends, "denied"
// and "pending" do not); without one, Do-Not-Track and Global Privacy Control are honoured by default.
export const trackingAllowed = (consent, respectDnt, nav) =>
  consent
    ? consent == "granted"
    : !(respectDnt && nav && (nav.globalPrivacyControl === true || /^(1|yes)$/.test(nav.doNotTrack || nav.msDoNotTrack)));
