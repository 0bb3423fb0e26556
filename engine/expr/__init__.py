"""The expression language: ``{{ JMESPath }}`` templates compiled once, the function table and its
checks, the built-in functions.
"""
