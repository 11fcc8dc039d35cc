"""From-scratch references in numpy (never torch): the formulas of chapter 10 computed
independently, so the torch models and ``torch.nn.functional`` can be checked against them.

A test parses every module here and fails if one imports torch.
"""
