"""nksim.manufacturing"""
