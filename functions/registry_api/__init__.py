"""The registry API: read models, versions and lineage; approve, reject, roll back."""
