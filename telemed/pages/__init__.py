"""Server-rendered pages (Jinja2): transport only, every rule lives in the services."""
