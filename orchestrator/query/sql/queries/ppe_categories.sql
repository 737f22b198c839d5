-- PPE human preference accuracy per category and language (view ppe_preference_categories) for one benchmark:
-- the data table's categories in their order, then the languages, most battles first.
SELECT model, kind, category, grouping, n, n_decided, accuracy
FROM ppe_preference_categories
WHERE benchmark = $benchmark
ORDER BY grouping = 'language', category_order,
         sum(n) OVER (PARTITION BY category) DESC, category, model;
