"""nksim.population"""
