"""nksim.kinetics"""
