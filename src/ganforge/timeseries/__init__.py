"""The time-series wing: GANs on sequences -- one long multivariate series or a panel of many (an id
column): data (checks, scaling, windows), nets, recipe, SeriesGAN, evaluation (the TimeGAN protocol's
discriminative and predictive scores), report sections and CLI. It reads files with the tables wing's
reader (the same formats and the same one-line errors)."""

USES: tuple[str, ...] = ("tables",)  # other wings this wing may import: tables.data.read_table
