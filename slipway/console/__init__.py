"""The Slipway console: slipway ui."""
