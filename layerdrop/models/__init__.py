"""Models: aliases and loading, the family table (where each family keeps its layer stack), and
surgery, the edits that remove parts of a model. Imports only layerdrop.errors and layerdrop.progress."""
