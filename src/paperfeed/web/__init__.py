"""The web app: HTML pages and the /api JSON, thin over the services."""
