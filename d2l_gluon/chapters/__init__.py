"""The book's chapters, one module each, in the book's order.

Each module reads top to bottom like its section: data, the scratch model
and loss, the training, "# ---- concise (Gluon)", the Gluon twin, the
independent reference and the chapter's figures.
"""
