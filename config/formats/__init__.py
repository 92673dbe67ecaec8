"""Date formats per language (FORMAT_MODULE_PATH): the pages write dates as "DATE_FORMAT" and
"DATETIME_FORMAT", so each language gets its own way of writing a date. Numbers keep Django's."""
