"""The User Insights dashboard: a static page served by the API process."""
