-- Every record of every run: one row per (run, model, example).
CREATE OR REPLACE VIEW records AS
SELECT * FROM raw_records;
