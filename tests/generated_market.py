"""A generated market written to a folder and loaded back through validation, for test fixtures."""

from __future__ import annotations

from pathlib import Path


def written_market(folder: Path, n_creators: int, n_campaigns: int, seed: int, **options):
    """Generate a market, write it (tables and truth) to ``folder`` and load it validated.

    Returns
    -------
    tuple
        ``(folder, tables, generated)``: the written folder, the validated contract tables and
        the generator's ``Market`` (its truth and traits).
    """
    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.data.validate import load_market

    generated = generate_market(n_creators, n_campaigns, seed, **options)
    folder = write_market(generated, folder)
    tables, _ = load_market(folder)
    return folder, tables, generated
