"""HTTP routes: thin routers, one module per resource."""
