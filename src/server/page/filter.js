(function () {
  var ids = ["cloud", "status", "account"];
  var sel = {};
  ids.forEach(function (k) { sel[k] = document.getElementById("f-" + k); });
  var rows = document.querySelectorAll("tr[data-resource]");
  function apply() {
    var v = {};
    ids.forEach(function (k) { v[k] = sel[k].value; });
    var shown = 0;
    rows.forEach(function (tr) {
      var ok = (!v.cloud || tr.getAttribute("data-cloud") === v.cloud) &&
               (!v.status || tr.getAttribute("data-status") === v.status) &&
               (!v.account || tr.getAttribute("data-account") === v.account);
      tr.hidden = !ok;
      if (ok) { shown++; }
    });
    var scopes = 0;
    var scopeRows = document.querySelectorAll("tr[data-scope]");
    scopeRows.forEach(function (tr) {
      tr.hidden = !((!v.cloud || tr.getAttribute("data-cloud") === v.cloud) &&
                    (!v.account || tr.getAttribute("data-account") === v.account) &&
                    (!v.status || Number(tr.getAttribute("data-n-" + v.status)) > 0));
      if (!tr.hidden) { scopes++; }
    });
    document.querySelectorAll("#scope-failures li").forEach(function (li) {
      li.hidden = !((!v.cloud || li.getAttribute("data-cloud") === v.cloud) &&
                    (!v.account || li.getAttribute("data-account") === v.account));
    });
    var counter = document.getElementById("shown");
    if (counter) { counter.textContent = String(shown); }
    // Empty states: say so instead of leaving a bare table header.
    var none = document.getElementById("no-match");
    if (none) { none.hidden = shown > 0 || rows.length === 0; }
    var table = document.getElementById("resources");
    if (table) { table.hidden = shown === 0; }
    var noScope = document.getElementById("no-scope-match");
    if (noScope) { noScope.hidden = scopes > 0 || scopeRows.length === 0; }
    // The live region: screen readers announce the new count after each change of a filter.
    var status = document.getElementById("filter-status");
    if (status) {
      status.textContent = "Showing " + shown + " of " + rows.length + " resources not in sync" +
        (shown === rows.length ? "." : " (filtered).");
    }
    var q = new URLSearchParams();
    ids.forEach(function (k) { if (v[k]) { q.set(k, v[k]); } });
    var s = q.toString();
    history.replaceState(null, "", s ? "?" + s : location.pathname);
  }
  var params = new URLSearchParams(location.search);
  ids.forEach(function (k) {
    var want = params.get(k);
    if (want !== null) {
      for (var i = 0; i < sel[k].options.length; i++) {
        if (sel[k].options[i].value === want) { sel[k].value = want; }
      }
    }
    sel[k].addEventListener("change", apply);
  });
  apply();
})();
