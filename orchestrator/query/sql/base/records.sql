-- A records relation over stored files (connect() substitutes the identifiers $name and $stored: the view and the
-- registered dataset of the files): every stored record, plus each unit another run reuses (a cache-served unit
-- recorded as a reference, _record_refs) with the reusing run's id and cached_from = the run whose scores they are.
CREATE OR REPLACE VIEW $name AS
SELECT * FROM $stored
UNION ALL
SELECT s.* REPLACE (f.run_id AS run_id, coalesce(s.cached_from, s.run_id) AS cached_from)
FROM $stored s
JOIN _record_refs f ON f.from_run = s.run_id AND f.benchmark = s.benchmark AND f.model = s.model AND f.shard = s.shard;
