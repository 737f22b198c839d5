-- A records relation (connect() substitutes the identifiers: $name the view, $stored the records stored in the
-- partitions it covers, $reused those of the partitions their unit references point to): every stored record, plus
-- each unit a run reuses (a cache-served unit recorded as a reference, _record_refs) with the reusing run's id and
-- cached_from = the run whose scores they are.
CREATE OR REPLACE VIEW $name AS
SELECT * FROM $stored
UNION ALL
SELECT s.* REPLACE (f.run_id AS run_id, coalesce(s.cached_from, s.run_id) AS cached_from)
FROM $reused s
JOIN _record_refs f ON f.from_run = s.run_id AND f.benchmark = s.benchmark AND f.model = s.model AND f.shard = s.shard;
