"""ganzoo.hub: resolve, download, verify and read/write weights in Hugging Face repo layout."""
