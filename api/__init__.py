"""API room: the query API, the live feed and the dashboard page; hosts the loader in embedded mode."""
