"""The Slipway console (``slipway ui``): server-rendered pages over the registry API, served
on 127.0.0.1 to the person who started it, with that person's AWS credentials."""
