-- An import job may read a legacy Excel 97-2003 workbook (.xls; service/imports/xls.py).
ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_format_check;
ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_format_check CHECK (format IN ('csv', 'xlsx', 'xls'));
