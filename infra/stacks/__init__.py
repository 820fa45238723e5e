"""One environment's four stacks: data outlives the rest, which can be replaced freely.

data -> serving -> workflow -> monitoring; each later stack imports what it needs from the
earlier ones (CloudFormation exports), so no stack depends on one deployed after it.
"""
