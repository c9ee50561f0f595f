"""One module per page; each has ``page(session) -> panel`` (a page builds its widgets for one browser session)."""
