"""The application: settings, wiring, the Litestar API and the `tradai` command line."""
