"""The results store: one filesystem API (local directories and URIs, atomic writes, run locks), the record
schema and layout, run manifests, the score cache, and import/export of the reference's result files."""
