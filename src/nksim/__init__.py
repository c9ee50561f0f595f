"""nksim: an in-silico lab for NK and CAR-NK cell cancer immunotherapy."""

__version__ = "0.1.0"
