"""The mock РСАА: a plain OpenID Connect provider with a regional staff directory's claims."""
