"""Recording: a source's observation planned into changes and written as versions."""
