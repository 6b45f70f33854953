"""Upstream identity providers: the bridge as a client of ESIA and standard OIDC providers."""
