"""The benchmark and its synthetic data: `python -m bench.generate --persons 100000` builds a city-scale data set."""
