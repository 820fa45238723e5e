"""The slipway command-line tool and the embedded cloud."""
