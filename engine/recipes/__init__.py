"""Recipes: the compiled model and its loading, the static checks, scopes and the shapes of data
references.
"""
