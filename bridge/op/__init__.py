"""The bridge as an OpenID Provider for relying apps: Authlib's server core behind a Starlette adapter."""
