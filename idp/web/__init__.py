"""Web layer: templates, translations, CSRF, security headers and error pages."""
