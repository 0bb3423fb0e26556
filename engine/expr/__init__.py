"""The expression language's lower layer: how a parsed JMESPath expression is evaluated."""
