"""lth: lottery-ticket experiments (iterative magnitude pruning and its controls), stored as plain files.

Flow: config -> engine (data, models, pruning, train, lottery) -> store -> results -> figures.
This package never imports streamlit; the app calls it.
"""
