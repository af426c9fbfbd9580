"""One module per model, written by `funnx new`; each defines a Blueprint `bp` that function_app.py registers."""
