"""nksim.io"""
