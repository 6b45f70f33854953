"""HTTP routes: parse the request, call a flow or service, render the answer. No SQL here."""
