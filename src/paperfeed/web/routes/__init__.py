"""One small router per feature; `create_app` includes every module listed in ROUTERS."""

ROUTERS = ("api", "pages", "accounts", "feeds", "subscriptions")
