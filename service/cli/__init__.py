"""``contact-import``: one module per command group; ``main`` dispatches."""
