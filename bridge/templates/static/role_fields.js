// The Роль select offers only the roles that fit the chosen organization's kind: a role option
// lists the organizations it fits (data-organizations). Without this script every role is listed
// and the server refuses one that does not fit, with a message.
document.querySelectorAll("select[data-fits]").forEach(function (roles) {
  var organizations = document.getElementById(roles.dataset.fits);
  if (!organizations) return;
  function offer() {
    var chosen = organizations.value;
    Array.prototype.forEach.call(roles.options, function (option) {
      if (!option.dataset.organizations) return;
      var fits = !chosen || option.dataset.organizations.split(" ").indexOf(chosen) >= 0;
      option.hidden = !fits;
      option.disabled = !fits;
    });
    if (roles.selectedOptions.length && roles.selectedOptions[0].disabled) roles.value = "";
  }
  organizations.addEventListener("change", offer);
  offer();
});
