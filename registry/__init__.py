"""The registry's domain: the bottom layer every other Slipway package builds on.

Table keys and item shapes, the lineage repository, version statuses and stages, audit
events, and the promotion workflow's contract (its declared steps, the gate policy and the
typed state document every step reads and writes). Nothing here imports another Slipway
package; ``model_runtime``, ``functions``, ``infra`` and ``slipway`` all import from here.
"""
