"""The law catalogue: one TOML file per law family (installed as ``bayescale.models``)."""
