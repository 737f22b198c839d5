"""Reading the results: DuckDB views and stored SQL (``sql/``), analyses, statistics and comparisons."""
