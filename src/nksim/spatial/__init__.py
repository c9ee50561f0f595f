"""nksim.spatial"""
