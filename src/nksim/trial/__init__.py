"""nksim.trial"""
