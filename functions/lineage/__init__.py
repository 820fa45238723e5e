"""The lineage table: versions, stage pointers, edges to data and code, and audit events."""
