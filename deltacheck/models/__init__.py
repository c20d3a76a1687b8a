"""Models made of layers: course networks with a ``params`` dict and ``loss(X, y)``, checked
against the composed reference layers and finite differences of their own loss."""
