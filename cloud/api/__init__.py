"""REST API: every route is declared once through cloud.api.operations (see that module)."""
