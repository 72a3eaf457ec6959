"""Security primitives: password hashing, tokens, authenticated encryption of secrets at rest."""
