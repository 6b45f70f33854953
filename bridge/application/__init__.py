"""The application layer: one function per thing an actor does.

Each use case takes the acting principal and plain arguments, checks permission once, owns its
unit of work (one transaction, its audit record, a refusal audited even though the transaction
rolls back) and returns a typed result. The pages (`bridge/routes/`), the CLI (`bridge/cli/`) and
the sign-in flows (`bridge/flows/`) are adapters over it; nothing here sees a Request or argv.
Below it, `bridge/services/` holds the domain rules and never commits.
"""
