"""digest: trending research papers, summarised and delivered once a day."""

__version__ = "0.1.0"
