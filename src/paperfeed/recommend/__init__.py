""" "For you": per-reader ranking of recent papers with checkable reasons (see `service`)."""

from paperfeed.recommend.service import Reason, Recommendation, Recommender, default_since

__all__ = ["Reason", "Recommendation", "Recommender", "default_since"]
