"""nksim.clinical"""
