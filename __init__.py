"""creatorrank: open, explainable creator ranking for brand campaigns."""

__version__ = "0.1.0"
