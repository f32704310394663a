"""paperfeed: self-hosted research-paper discovery.

`paperfeed.open(home_or_url)` returns the `Library`, the API both the CLI and the web app use.
"""

from paperfeed.library import Library, open
from paperfeed.records import Author, Paper
from paperfeed.search import Hit

__all__ = ["Author", "Hit", "Library", "Paper", "open"]
__version__ = "0.1.0"
