"""The embedded cloud: moto, taught to run what Slipway deploys, on one machine."""
