// Runs in <head> before the page is drawn, so a remembered choice never flashes the other
// theme. No choice: the stylesheet follows prefers-color-scheme. The toggle is in app.js.
try {
  var pfTheme = localStorage.getItem("pf-theme");
  if (pfTheme === "dark" || pfTheme === "light") document.documentElement.setAttribute("data-theme", pfTheme);
} catch (e) { /* storage disabled: follow the system setting */ }
