"""nksim.report"""
