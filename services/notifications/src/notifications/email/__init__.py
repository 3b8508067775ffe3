"""E-mail: templates (Jinja2, HTML and plain text) and the SMTP client."""
