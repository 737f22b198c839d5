-- Every record of every run: one row per (run, model, example). Records of schema version 4 keep their texts in
-- the examples table (texts once); they are joined back here, so prompt/chosen/rejected read as before, with the
-- examples' metadata (MAP(VARCHAR, VARCHAR); null where the loader keeps none, or the examples file predates it).
CREATE OR REPLACE VIEW records AS
SELECT r.* REPLACE (
    CASE WHEN r.texts IS NULL THEN r.prompt ELSE e.prompt END AS prompt,
    CASE WHEN r.texts IS NULL THEN r.chosen ELSE e.chosen END AS chosen,
    CASE WHEN r.texts IS NULL THEN r.rejected ELSE e.rejected END AS rejected,
    CASE WHEN r.texts IS NULL THEN r.texts_chosen ELSE e.texts_chosen END AS texts_chosen,
    CASE WHEN r.texts IS NULL THEN r.texts_rejected ELSE e.texts_rejected END AS texts_rejected
), e.metadata
FROM raw_records r
LEFT JOIN examples e ON e.texts = r.texts AND e.row_index = r.row_index;
