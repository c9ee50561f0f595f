"""`nksim app`: the interactive app (Panel on a Bokeh server) over the same layers as the CLI.

Pages (one module each in ``nksim.app.pages``): scenario designer, virtual cohort, trial designer, next-dose
advisor, manufacturing and spatial view. ``nksim.app.session`` holds one browser session's state (the current
scenario, the app's runs folder), ``nksim.app.jobs`` runs long work in a worker thread with progress and cancel,
``nksim.app.forms`` builds the scenario forms from the pydantic schema, ``nksim.app.uploads`` is the upload
boundary (size limit, UTF-8, YAML through the project's strict loader, CSV through the trial reader).

    from nksim.app.server import serve
    serve(host="127.0.0.1", port=5006)          # what `nksim app` runs

Nothing here is imported by ``import nksim`` or ``nksim --help``.
"""
