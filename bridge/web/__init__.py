"""Web plumbing shared by the routes: templates, CSRF, cookies, error pages."""
