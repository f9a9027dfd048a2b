"""The BigQuery side: PhysioNet's BigQuery SQL translated for this warehouse
(`translate`), the derived views rendered for BigQuery (`render`), and the
dataset and project names both share (`names`)."""
