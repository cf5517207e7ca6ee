"""Store logic written once for every backend, over the `store.sql.Conn` surface.

Each module is one domain's mixin (subscriptions, accounts, jobs, harvest) plus the pure
decisions the backends' own SQL paths share (catalogue merges, migrations to apply).
"""
