// «Распечатать памятку»: the browser's print dialog; bridge.css prints the slip alone.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
