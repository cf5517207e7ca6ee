"""One small router per feature; `create_app` includes each by name."""
