// Runs before the first paint (a classic script, since the page allows no inline script): applies
// the theme the user picked last time; without one the stylesheet follows the system setting.
(function applyRememberedTheme() {
  try {
    var theme = window.localStorage.getItem("ae.theme");
    if (theme === "dark" || theme === "light") document.documentElement.dataset.theme = theme;
  } catch (error) {
    // Storage can be disabled; the system setting still applies.
  }
})();
