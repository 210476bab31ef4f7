"""Where papers come from: trending-page dumps, the Hugging Face daily-papers API, arXiv."""
